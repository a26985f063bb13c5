"""A click group whose commands live in modules imported only when that command runs.

The CLI's start time is mostly imports: ``shoal service ls`` must not pay for
what ``swarm join`` (the Docker SDK) or ``service create`` (every spec flag)
needs.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """``commands``: name -> (module, attribute, one-line help) of each lazily imported command; commands
    added the usual way (``@group.command``) work beside them."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attribute, _ = self.lazy[name]
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(name, self.lazy[name][2] if name in self.lazy else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
