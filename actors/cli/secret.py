"""``shoal secret``: create, ls, inspect, rm (datacommands.py, as Docker's) and rotate (Shoal's own)."""

from __future__ import annotations

import click

from actors.cli import datacommands
from actors.cli.client import ControlClient

LS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Created}}\t{{.Updated}}"


@click.group()
def secret() -> None:
    """Manage swarm secrets."""


datacommands.add_commands(secret, "secret", LS_FORMAT)


@secret.command("rotate")
@click.argument("ref")
@click.argument("source", metavar="FILE|-")
@click.pass_obj
def rotate(state_dir, ref, source) -> None:
    """Give a secret a new value from a file or STDIN, and roll every service using it within its update
    policy (Shoal). Prints the secret's ID, then each service rolled."""
    data = datacommands.read_data("secret", source)
    reply = ControlClient(state_dir).call("secret_rotate", {"ref": ref, "data": data})
    click.echo(reply["id"])
    for name in reply["services"]:
        click.echo(f"rolling service {name}")
