"""``shoal stack``: deploy, ls, ps, services, rm, over the control API's service, network, secret and
config requests. The compose files are read and translated here, on the client, as ``docker stack
deploy`` does (actors/stack/); the cluster only ever sees specs."""

from __future__ import annotations

import os
import sys
import time

import click

from actors.cli import listing
from actors.cli.client import CliError, ControlClient
from actors.cli.progress import follow
from actors.cli.service import LS_FORMAT, service_row
from actors.common import filters
from actors.stack import compose, convert, plan
from actors.stack.errors import ComposeError
from transport import limits

# A network is removed once the tasks of the services removed before it have given up their addresses.
NETWORK_RM_SECONDS = 60.0
RESOLVE_IMAGE = ("always", "changed", "never")


@click.group()
def stack() -> None:
    """Manage Swarm stacks."""


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as handle:
        return handle.read()


def _cluster_objects(client: ControlClient) -> dict:
    """What a deploy or removal decides from: every service, network, secret and config."""
    return {"services": [row["service"] for row in client.call("service_ls")],
            "networks": client.call("network_ls"), "secrets": client.call("secret_ls"),
            "configs": client.call("config_ls")}


class _DeployCommand(click.Command):
    """``stack deploy``, reading ``--detach`` as Docker's boolean flag: a bare ``-d``/``--detach`` is true (it
    never takes the next word), ``--detach=false`` (or ``-d=false``) waits."""

    def parse_args(self, ctx, args):
        rewritten = []
        for position, token in enumerate(args):
            if token == "--":
                rewritten += args[position:]
                break
            if token in ("-d", "--detach"):
                token = "--detach=true"
            elif token.startswith("-d="):
                token = "--detach=" + token[3:]
            rewritten.append(token)
        return super().parse_args(ctx, rewritten)


@stack.command("deploy", cls=_DeployCommand)
@click.option("-c", "--compose-file", "files", multiple=True, required=True, metavar="FILE",
              help="Path to a Compose file, or '-' to read from stdin (repeat to merge files).")
@click.option("--prune", is_flag=True, help="Prune services that are no longer referenced.")
@click.option("--resolve-image", type=click.Choice(RESOLVE_IMAGE), default="never", show_default=True,
              help="Query the registry to resolve image digest and supported platforms (Shoal: never).")
@click.option("--with-registry-auth", is_flag=True, help="Send registry authentication details (refused).")
@click.option("-d", "--detach", type=click.BOOL, default=True, metavar="[=true|false]",
              help="Exit immediately instead of waiting for the stack services to converge (default true).")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output.")
@click.argument("name")
@click.pass_obj
def deploy(state_dir, files, prune, resolve_image, with_registry_auth, detach, quiet, name) -> None:
    """Deploy a new stack or update an existing stack."""
    if resolve_image != "never":
        raise CliError(f"--resolve-image {resolve_image} is not supported: Shoal never resolves image "
                               "digests (images are used as named); use --resolve-image never")
    if with_registry_auth:
        raise CliError("--with-registry-auth is not supported: Shoal's nodes pull with their engine's own "
                               "credentials")
    try:
        convert.check_stack_name(name)
        project = compose.load(list(files), dict(os.environ), _read, os.getcwd())
        wanted = convert.convert(project, name)
    except ComposeError as exc:
        raise CliError(str(exc)) from None
    for warning in project.warnings():
        click.echo(warning, err=True)
    client = ControlClient(state_dir)
    cluster = _cluster_objects(client)
    try:
        steps = plan.deploy(wanted, cluster["services"], cluster["networks"], cluster["secrets"],
                            cluster["configs"], prune)
    except ComposeError as exc:
        raise CliError(str(exc)) from None
    services = {service["ID"]: service for service in cluster["services"]}
    written = []
    for step in steps:
        if step.message:
            click.echo(step.message)
        reply = _send(client, step, services)
        if step.kind in ("service_create", "service_update"):
            written.append((reply["ID"], services.get(reply["ID"], {}).get("UpdateStatus")))
    if not detach:  # each service created or updated, in turn, as Docker waits on them
        for service_id, baseline in written:
            follow(client, service_id, limits.CLI_WAIT_SECONDS, quiet, baseline=baseline)


def _send(client: ControlClient, step: plan.Step, services: dict[str, dict]):
    """Send ``step``. A secret or config update refused (its data differs from the file's) fails the deploy
    naming the object, as Docker's does. A service update refused as out of sequence (the service's status moved since it was read, as
    the updater writes it during a rollout) is sent again at the new version if the service's spec is still
    the one the deploy compared against; a spec someone else changed meanwhile is not overwritten."""
    try:
        return client.call(step.kind, step.body)
    except CliError as exc:
        if step.kind in ("secret_update", "config_update"):  # Docker's words, and the way out
            noun = step.kind.removesuffix("_update")
            raise CliError(f"failed to update {noun} {step.body['spec']['Name']}: {exc.message}"
                           + (" (change its data with 'shoal secret rotate')" if noun == "secret" else "")) from None
        if step.kind != "service_update" or "out of sequence" not in exc.message:
            raise
    current = client.call("service_inspect", {"ref": step.body["ref"]})
    try:
        again = plan.update_again(step, services[step.body["ref"]], current)
    except ComposeError as exc:
        raise CliError(str(exc)) from None
    return client.call(again.kind, again.body)


@stack.command("ls")
@click.option("--format", "output", default=None, help="Format output using a Go-style template ({{.Name}}).")
@click.pass_obj
def ls(state_dir, output) -> None:
    """List stacks."""
    services = [row["service"] for row in ControlClient(state_dir).call("service_ls")]
    rows = [{"Name": stack_name, "Services": count} for stack_name, count in plan.stack_names(services).items()]
    listing.show(rows, [], False, output, "table {{.Name}}\t{{.Services}}")


def _stack_services(client: ControlClient, name: str) -> list[dict]:
    """The service rows (service_ls) of stack ``name``."""
    return [row for row in client.call("service_ls") if row["service"] in plan.of_stack([row["service"]], name)]


@stack.command("services")
@listing.list_options("Only display IDs.")
@click.argument("name")
@click.pass_obj
def services(state_dir, quiet, output, filter_texts, name) -> None:
    """List the services in the stack (none: a line on stderr, exit 0, as Docker)."""
    wanted = listing.parsed_filters(filter_texts, filters.SERVICE_LS)
    found = _stack_services(ControlClient(state_dir), name)
    if not found:
        click.echo(f"Nothing found in stack: {name}", err=True)
        return
    rows = [service_row(row) for row in found if filters.keep([row["service"]], wanted, filters.SERVICE_LS)]
    listing.show(rows, [row["ID"] for row in rows], quiet, output, LS_FORMAT)


@stack.command("ps")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@listing.list_options("Only display task IDs.", json_help="'json': the tasks as stored, a JSON array (Shoal).")
@click.argument("name")
@click.pass_obj
def ps(state_dir, no_trunc, quiet, output, filter_texts, name) -> None:
    """List the tasks in the stack (none: an error, as Docker)."""
    client = ControlClient(state_dir)
    tasks, hostnames, names = [], {}, {}
    for row in _stack_services(client, name):
        reply = client.service_ps(row["service"]["ID"])
        tasks += reply["tasks"]
        hostnames.update(reply["hostnames"])
        names[reply["service"]["ID"]] = reply["service"]["Spec"]["Name"]
    if not tasks:
        raise CliError(f"nothing found in stack: {name}")
    listing.show_tasks(tasks, hostnames, names, no_trunc, quiet, output, filter_texts)


@stack.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(state_dir, names) -> None:
    """Remove one or more stacks: their services, then their secrets, configs and networks. As Docker: a
    stack with nothing is a line on stderr; a removal that fails is reported and the others go on, and
    the command then fails naming the stack."""
    client = ControlClient(state_dir)
    failed = []
    for name in names:
        cluster = _cluster_objects(client)
        steps = plan.remove(name, cluster["services"], cluster["networks"], cluster["secrets"], cluster["configs"])
        if not steps:
            click.echo(f"Nothing found in stack: {name}", err=True)
        for step in steps:
            click.echo(step.message)
            try:
                if step.kind == "network_rm":
                    _remove_network(client, step)
                else:
                    client.call(step.kind, step.body)
            except CliError as exc:
                click.echo(f"Failed to remove {step.message.removeprefix('Removing ')}: {exc.message}", err=True)
                failed.append(name)
    if failed:
        raise CliError(f"failed to remove some resources from stack: {', '.join(sorted(set(failed)))}")


def _remove_network(client: ControlClient, step: plan.Step) -> None:
    """Remove a network, waiting (at most NETWORK_RM_SECONDS) while tasks of removed services still hold
    addresses on it."""
    deadline = time.monotonic() + NETWORK_RM_SECONDS
    while True:
        try:
            client.call(step.kind, step.body)
            return
        except CliError as exc:
            if "in use" not in exc.message or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


# Docker's aliases of the same commands.
for _command, _aliases in ((deploy, ("up",)), (ls, ("list",)), (rm, ("remove", "down"))):
    for _alias in _aliases:
        stack.add_command(_command, _alias)
