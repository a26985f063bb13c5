"""The ``shoal`` click group; the nouns live in swarm.py, node.py and service.py."""

from __future__ import annotations

import pathlib
import sys

import click

from actors.cli.lazy import LazyGroup
from actors.common import files
from actors.common.hostconfig import default_state_dir
from transport.text import escaped

NOUNS = {"swarm": ("actors.cli.swarm", "swarm", "Manage the swarm."),
         "node": ("actors.cli.node", "node", "Manage swarm nodes."),
         "service": ("actors.cli.service", "service", "Manage swarm services."),
         "network": ("actors.cli.network", "network", "Manage networks."),
         "secret": ("actors.cli.secret", "secret", "Manage swarm secrets."),
         "config": ("actors.cli.config", "config", "Manage swarm configs."),
         "stack": ("actors.cli.stack", "stack", "Manage Swarm stacks."),
         "events": ("actors.cli.events", "events", "Get real time events from the server."),
         "engine-api": ("actors.cli.engineapi", "engine_api", "Serve the Docker Engine API on TCP with mutual TLS.")}


@click.group(cls=LazyGroup, lazy=NOUNS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=pathlib.Path), envvar="SHOAL_STATE_DIR",
              default=default_state_dir, show_default="$SHOAL_STATE_DIR or ~/.shoal",
              help="This host's directory of keys, data and logs.")
@click.pass_context
def cli(ctx: click.Context, state_dir: pathlib.Path) -> None:
    """Shoal: a container orchestrator in the spirit of Docker Swarm mode."""
    ctx.obj = state_dir.resolve()



def run() -> None:
    """Console entry point: every error, usage errors included, is one ``Error: ...`` line (escaped: a
    message quoting what the cluster holds never sends control characters to the terminal).
    Whatever it creates is its user's alone (umask 077)."""
    files.private_files()
    try:
        cli.main(prog_name="shoal", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Error: aborted", err=True)
        sys.exit(1)
    except click.exceptions.NoSuchOption as exc:
        # As docker says it: click's "Did you mean" guesses by spelling and points at unrelated flags.
        command = exc.ctx.command_path if exc.ctx else "shoal"
        click.echo(f"Error: unknown flag: {escaped(exc.option_name)} (see '{command} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"Error: {escaped(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
