"""``shoal service``: ls, ps, inspect, scale, rm here; create, update, rollback, restart in servicespec.py."""

from __future__ import annotations

import re
import time

import click

from actors.cli import listing
from actors.cli.client import ControlClient, each, remove_each
from actors.cli.format import ports_text
from actors.cli.lazy import LazyGroup
from actors.cli.pretty import service_pretty
from actors.cli.progress import follow, waiting_options
from actors.common import filters
from transport import limits, schema

_DIGITS = re.compile(r"[0-9]+")
LS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}"
REPLICAS = click.IntRange(0, limits.REPLICAS)


def parse_scale(pair: str) -> tuple[str, int]:
    """``SERVICE=REPLICAS`` into (service, replicas); BadParameter unless REPLICAS is 0..REPLICAS."""
    ref, sep, count = pair.partition("=")
    if not ref or not sep or not _DIGITS.fullmatch(count):
        raise click.BadParameter(f"invalid scale specifier {pair!r}: use SERVICE=REPLICAS")
    if int(count) > limits.REPLICAS:
        raise click.BadParameter(f"invalid replicas value {count}: a service may have at most {limits.REPLICAS} replicas")
    return ref, int(count)


# The commands that write a spec take every spec flag: their module is imported only when one runs.
WRITES = {name: ("actors.cli.servicespec", attribute, text) for name, attribute, text in (
    ("create", "create", "Create a new service."), ("update", "update", "Update a service."),
    ("rollback", "rollback", "Revert changes to a service's configuration."),
    ("restart", "restart", "Replace every task of a service within its update policy."))}
LAZY = {**WRITES, "logs": ("actors.cli.logs", "logs", "Fetch the logs of a service or task.")}


@click.group(cls=LazyGroup, lazy=LAZY)
def service() -> None:
    """Manage swarm services."""


def service_row(entry: dict) -> dict:
    """A ``service ls`` row from the control API's ``{"service", "running", "desired"}`` (plus, for a job,
    ``completed`` and ``total``: ``1/2 (3/10 completed)`` and mode ``replicated job``, as docker shows them)."""
    service = entry["service"]
    replicas = f"{entry['running']}/{entry['desired']}"
    if "completed" in entry:
        replicas += f" ({entry['completed']}/{entry['total']} completed)"
    return {"ID": service["ID"][:12], "Name": service["Spec"]["Name"],
            "Mode": schema.service_mode(service).replace("-", " "), "Replicas": replicas,
            "Image": schema.get_path(service, "Spec.TaskTemplate.ContainerSpec.Image", ""),
            "Ports": ports_text(schema.get_path(service, "Endpoint.Ports", []))}


@service.command("ls")
@listing.list_options("Only display IDs.")
@click.pass_obj
def ls(state_dir, quiet, output, filter_texts) -> None:
    """List services."""
    wanted = listing.parsed_filters(filter_texts, filters.SERVICE_LS)
    entries = [e for e in ControlClient(state_dir).call("service_ls")
               if filters.keep([e["service"]], wanted, filters.SERVICE_LS)]
    rows = [service_row(e) for e in entries]
    listing.show(rows, [row["ID"] for row in rows], quiet, output, LS_FORMAT)  # docker's -q: 12-character IDs


@service.command("ps")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@listing.list_options("Only display task IDs.", json_help="'json': the tasks as stored, a JSON array (Shoal).")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def ps(state_dir, no_trunc, quiet, output, filter_texts, refs) -> None:
    """List the tasks of one or more services."""
    client = ControlClient(state_dir)
    tasks, hostnames, names = [], {}, {}
    for ref in refs:
        reply = client.service_ps(ref)
        tasks += reply["tasks"]
        hostnames.update(reply["hostnames"])
        names[reply["service"]["ID"]] = reply["service"]["Spec"]["Name"]
    listing.show_tasks(tasks, hostnames, names, no_trunc, quiet, output, filter_texts)


@service.command("inspect")
@listing.inspect_options("{{.Spec.Name}}")
@click.pass_obj
def inspect(state_dir, pretty, output, refs) -> None:
    """Display detailed information on services."""
    listing.check_pretty(pretty, output)
    client = ControlClient(state_dir)
    found, refusal = each(refs, lambda ref: client.call("service_inspect", {"ref": ref}))

    def pretty_text(services: list[dict]) -> str:
        names = {n["ID"]: n["Spec"]["Name"] for n in client.call("network_ls")} if any(
            schema.get_path(s, "Spec.TaskTemplate.Networks") for s in services) else {}
        return "\n".join(service_pretty(s, time.time(), names) for s in services)
    listing.show_inspected(found, refusal, output, pretty and pretty_text)


@service.command("scale")
@waiting_options
@click.argument("pairs", nargs=-1, required=True)
@click.pass_obj
def scale(state_dir, detach, quiet, timeout, pairs) -> None:
    """Scale one or more replicated services: SERVICE=REPLICAS ..."""
    wanted = [parse_scale(pair) for pair in pairs]
    client = ControlClient(state_dir)
    for ref, count in wanted:
        scaled = client.call("service_scale", {"ref": ref, "replicas": count})
        click.echo(f"{ref} scaled to {count}")
        if not detach:  # a scale starts no update: a paused one stays paused without failing the scale
            follow(client, ref, timeout, quiet, baseline=scaled.get("UpdateStatus"))


@service.command("rm")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def rm(state_dir, refs) -> None:
    """Remove one or more services."""
    remove_each(state_dir, "service_rm", refs)

