"""``shoal config``: create, ls, inspect, rm (datacommands.py, as Docker's)."""

from __future__ import annotations

import click

from actors.cli import datacommands

LS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Created}}\t{{.Updated}}"


@click.group()
def config() -> None:
    """Manage swarm configs."""


datacommands.add_commands(config, "config", LS_FORMAT)
