"""Convergence progress like ``docker service create``: one bar per slot, redrawn until done."""

from __future__ import annotations

import sys
import time

import click

from actors.cli.client import CliError, ControlClient
from transport import schema
from transport.text import escaped

BAR_WIDTH = 50
STEPS = (schema.NEW, schema.PENDING, schema.ASSIGNED, schema.ACCEPTED, schema.PREPARING, schema.STARTING, schema.RUNNING)
STUCK_SECONDS = 10.0


def slot_line(slot: int, replicas: int, history: list[dict]) -> str:
    """``2/3: running   [=====...>]`` for the slot's newest task, or its error."""
    task = max(history, key=lambda t: t.get("CreatedAt", "")) if history else None
    state = task["Status"]["State"] if task else schema.NEW
    label = f"{slot}/{replicas}: "
    errored = [t for t in history if t["Status"].get("Err")]
    if state != schema.RUNNING and errored:
        return label + escaped(errored[-1]["Status"]["Err"])
    step = STEPS.index(state) + 1 if state in STEPS else 1
    filled = BAR_WIDTH * step // len(STEPS)
    return label + f"{state:<10}[{'=' * (filled - 1)}>{' ' * (BAR_WIDTH - filled)}]"


def picture(service: dict, tasks: list[dict], down_nodes=()) -> tuple[list[str], bool, bool]:
    """(lines, converged, hopeless): hopeless when every slot has a rejected task and none runs.

    Converged: every slot runs a task, and no task of a removed slot still runs, except on a node
    that is down (it cannot be told to stop until it comes back; Swarm does not wait for it either)."""
    replicas = schema.desired_replicas(service)
    slots: dict[int, list[dict]] = {}
    for task in tasks:
        if task.get("Slot"):
            slots.setdefault(task["Slot"], []).append(task)
    running = sum(1 for slot in range(1, replicas + 1) if any(
        t["Status"]["State"] == schema.RUNNING and t["DesiredState"] == schema.RUNNING for t in slots.get(slot, [])))
    extra = sum(1 for t in tasks if (t.get("Slot") or 0) > replicas and not schema.is_terminal(t["Status"]["State"])
                and t.get("NodeID") not in down_nodes)
    lines = [f"overall progress: {running} out of {replicas} tasks"]
    lines += [slot_line(slot, replicas, slots.get(slot, [])) for slot in range(1, replicas + 1)]
    rejected_everywhere = replicas > 0 and running == 0 and all(
        any(t["Status"]["State"] == schema.REJECTED for t in slots.get(slot, [])) for slot in range(1, replicas + 1))
    return lines, running == replicas and extra == 0, rejected_everywhere


def wait_converged(client: ControlClient, ref: str, timeout: float) -> None:
    """Show progress until the service's replicas all run; CliError when it cannot get there."""
    interactive = sys.stdout.isatty()
    shown: list[str] = []
    deadline = time.monotonic() + timeout
    hopeless_since = None
    while True:
        reply = client.service_ps(ref)
        lines, converged, hopeless = picture(reply["service"], reply["tasks"], set(reply["down_nodes"]))
        if lines != shown:
            if interactive and shown:
                click.echo(f"\x1b[{len(shown)}A\x1b[J", nl=False)
            click.echo("\n".join(lines))
            shown = lines
        if converged:
            click.echo("verify: Service converged")
            return
        now = time.monotonic()
        hopeless_since = (hopeless_since or now) if hopeless else None
        if hopeless_since is not None and now - hopeless_since > STUCK_SECONDS:
            raise CliError(f"service {reply['service']['Spec']['Name']} cannot start its tasks: {lines[-1].split(': ', 1)[1]}")
        if now > deadline:
            raise CliError(f"service {reply['service']['Spec']['Name']} did not converge within {timeout:g}s")
        time.sleep(0.1)
