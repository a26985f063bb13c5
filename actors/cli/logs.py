"""``shoal service logs``: container output of a service's or a task's containers, from every node.

Each round asks the control API (``service_logs``) for what is new since the
last one (logview.Follower keeps the cursors); without ``--follow`` rounds
go on only while a node's answer was cut by its bounds, with it one round
every POLL_SECONDS until the service (or the task) is gone or the user
presses Ctrl-C. A node that cannot answer costs a round at most
LOG_NODE_SECONDS and one warning line, never a hang.
"""

from __future__ import annotations

import sys
import time

import click

from actors.cli.client import ControlClient, CliError
from actors.common.logview import Follower, Options, parse_since, parse_tail
from transport import limits

POLL_SECONDS = 0.5  # between rounds while following
ROUND_SECONDS = limits.LOG_NODE_SECONDS + 5.0  # one round: its slowest node, plus the control API's own work


@click.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("--since", default="", help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                                          '(e.g. "42m" for 42 minutes)')
@click.option("-n", "--tail", default="all", help="Number of lines to show from the end of the logs")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--no-resolve", is_flag=True, help="Do not map IDs to Names in output")
@click.option("--no-task-ids", is_flag=True, help="Do not include task IDs in output")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--raw", is_flag=True, help="Do not neatly format logs")
@click.argument("ref", metavar="SERVICE|TASK")
@click.pass_obj
def logs(state_dir, follow, since, tail, timestamps, no_resolve, no_task_ids, no_trunc, raw, ref) -> None:
    """Fetch the logs of a service or task."""
    try:
        since_ns = parse_since(since, time.time_ns())
    except ValueError as exc:
        raise CliError(str(exc)) from None
    client = ControlClient(state_dir)
    follower = Follower(ref, since_ns, parse_tail(tail), Options(timestamps, no_task_ids, no_trunc, raw, no_resolve))
    try:
        while True:
            reply = client.call("service_logs", follower.request(), timeout=ROUND_SECONDS)
            try:
                shown = follower.take(reply)
            except ValueError as exc:
                raise CliError(str(exc)) from None
            for stream, text in shown:
                click.echo(text, err=stream != "stdout")
            sys.stdout.flush()
            if follower.more:
                continue
            if not follow or follower.ended:
                return
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        sys.exit(130)
