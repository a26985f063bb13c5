"""``shoal service create|update|rollback|restart``: the commands that write a service's spec and
follow the cluster until it converges (or the update pauses or rolls back)."""

from __future__ import annotations

import time

import click

from actors.cli import specflags
from actors.cli.client import ControlClient
from actors.cli.progress import follow, waiting_options
from actors.cli.service import REPLICAS
from transport import schema


@click.command("create", cls=specflags.SpecCommand, context_settings={"allow_interspersed_args": False})
@click.option("--name", default=None, help="Service name.")
@click.option("--mode", type=click.Choice(list(specflags.MODES)), default="replicated", show_default=True,
              help="Service mode.")
@click.option("--replicas", type=REPLICAS, default=None, help="Number of tasks.")
@click.option("--max-concurrent", type=REPLICAS, default=None,
              help="Number of job tasks to run concurrently (default equal to --replicas).")
@specflags.options("create")
@waiting_options
@click.argument("image")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def create(state_dir, name, mode, replicas, max_concurrent, detach, quiet, timeout, image, args, **values) -> None:
    """Create a new service running IMAGE [COMMAND [ARG...]]."""
    spec = specflags.create_spec(name or f"svc-{int(time.time() * 1000) % 100000}", image, list(args), mode,
                                 replicas, max_concurrent, values)
    client = ControlClient(state_dir)
    created = client.call("service_create", {"spec": spec})
    click.echo(created["ID"])
    if not detach:
        follow(client, created["ID"], timeout, quiet)


@click.command("update", cls=specflags.SpecCommand)
@click.option("--replicas", type=REPLICAS, default=None, help="Number of tasks.")
@click.option("--max-concurrent", type=REPLICAS, default=None, help="Number of job tasks to run concurrently.")
@click.option("--force", is_flag=True, help="Force update even if no changes require it.")
@click.option("--rollback", is_flag=True, help="Rollback to previous specification.")
@click.option("--update-step", "step", is_flag=True,
              help="Pause after each batch of the update until 'service update --continue' (Shoal).")
@click.option("--continue", "next_step", is_flag=True, help="Run the next batch of a stepped update (Shoal).")
@click.option("--resume", is_flag=True, help="Resume a paused update to its end (Shoal).")
@specflags.options("update")
@waiting_options
@click.argument("ref")
@click.pass_obj
def update(state_dir, replicas, max_concurrent, force, rollback, step, next_step, resume, detach, quiet, timeout,
           ref, **values) -> None:
    """Update a service."""
    changes = (any(v not in (None, ()) for v in values.values()) or replicas is not None
               or max_concurrent is not None or force)
    actions = [flag for flag, given in (("--rollback", rollback), ("--continue", next_step), ("--resume", resume)) if given]
    if len(actions) > 1 or actions and (changes or step):
        raise click.UsageError(f"{actions[0]} cannot be combined with other changes")
    client = ControlClient(state_dir)
    current = client.call("service_inspect", {"ref": ref})
    version = schema.version_of(current)
    if rollback:
        client.call("service_rollback", {"ref": current["ID"], "version": version})
    elif actions:
        client.call("service_update", {"ref": current["ID"], "version": version, "resume": "step" if next_step else "all"})
    else:
        spec = specflags.updated_spec(current["Spec"], _network_ids(client, values), replicas, max_concurrent, force)
        body = {"ref": current["ID"], "version": version, "spec": spec}
        if step:
            body["step"] = True
        client.call("service_update", body)
    click.echo(ref)
    if not detach:
        follow(client, current["ID"], timeout, quiet, baseline=current.get("UpdateStatus"), rollback_requested=rollback)


def _network_ids(client: ControlClient, values: dict) -> dict:
    """``values`` with each ``--network-rm`` network (by name, id or id prefix) as its id, which is what a
    service's spec holds."""
    removals = values.get("network_rm") or ()
    if not removals:
        return values
    return {**values, "network_rm": tuple(client.call("network_inspect", {"ref": ref})["ID"] for ref in removals)}


@click.command("rollback")
@waiting_options
@click.argument("ref")
@click.pass_obj
def rollback(state_dir, detach, quiet, timeout, ref) -> None:
    """Revert changes to a service's configuration."""
    _request_and_follow(state_dir, ref, detach, quiet, timeout, rollback_requested=True,
                        request=lambda current: ("service_rollback", {"ref": current["ID"],
                                                                      "version": schema.version_of(current)}))


@click.command("restart")
@waiting_options
@click.argument("ref")
@click.pass_obj
def restart(state_dir, detach, quiet, timeout, ref) -> None:
    """Replace every task of a service within its update policy (Shoal; moby/moby#24413)."""
    _request_and_follow(state_dir, ref, detach, quiet, timeout,
                        request=lambda current: ("service_restart", {"ref": current["ID"]}))


def _request_and_follow(state_dir, ref, detach, quiet, timeout, request, rollback_requested=False) -> None:
    """Send ``request(service)`` (a request kind and body made from the service as inspected now), print
    ``ref``, then follow the update it starts unless ``detach``."""
    client = ControlClient(state_dir)
    current = client.call("service_inspect", {"ref": ref})
    client.call(*request(current))
    click.echo(ref)
    if not detach:
        follow(client, current["ID"], timeout, quiet, baseline=current.get("UpdateStatus"),
               rollback_requested=rollback_requested)
