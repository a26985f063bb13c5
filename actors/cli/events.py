"""``shoal events``: a live stream of task and node transitions, with the time the store recorded each.

Lines as ``docker events`` prints them: ``TIME TYPE ACTION ID (key=value, ...)``.
Each round asks the control API (``events``) for what came after the last
event seen, waiting there up to two seconds for one; ``--since`` starts from
a time (as far back as the control API remembers: EVENTS_KEPT events),
``--until`` stops at one. Ctrl-C ends it (exit code 130).
"""

from __future__ import annotations

import sys
import time

import click

from actors.cli.client import ControlClient, CliError
from actors.common.logview import parse_since
from actors.common.loglines import format_timestamp

FILTER_KEYS = ("service", "node", "type")
WAIT_SECONDS = 2.0  # the control API's longest wait for an event within one round
ROUND_SECONDS = WAIT_SECONDS + 5.0


def parse_filters(texts) -> dict[str, list[str]]:
    """``--filter key=value`` flags as ``{key: [values]}``; ValueError, Docker's words, for another key."""
    found: dict[str, list[str]] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or key not in FILTER_KEYS:
            raise ValueError(f"invalid filter '{text}': use {', '.join(k + '=...' for k in FILTER_KEYS)}")
        found.setdefault(key, []).append(value)
    return found


def event_line(event: dict) -> str:
    """One event as ``docker events`` prints it."""
    attributes = ", ".join(f"{key}={value}" for key, value in sorted(event["attributes"].items()) if value)
    return f"{format_timestamp(event['time'])} {event['type']} {event['action']} {event['id']} ({attributes})"


@click.command("events")
@click.option("-f", "--filter", "filter_texts", multiple=True, help="Filter output based on conditions provided")
@click.option("--since", default="", help="Show all events created since timestamp")
@click.option("--until", default="", help="Stream events until this timestamp")
@click.pass_obj
def events(state_dir, filter_texts, since, until) -> None:
    """Get real time events from the server."""
    now = time.time_ns()
    try:
        filters, since_ns, until_ns = parse_filters(filter_texts), parse_since(since, now), parse_since(until, now)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    client = ControlClient(state_dir)
    body = {"epoch": "", "after": None, "since": since_ns, "filters": filters}
    try:
        while True:
            wait = WAIT_SECONDS if not until_ns else max(0.0, min(WAIT_SECONDS, (until_ns - time.time_ns()) / 1e9))
            reply = client.call("events", {**body, "wait": wait}, timeout=ROUND_SECONDS)
            shown = [e for e in reply["events"] if not until_ns or e["time"] <= until_ns]
            for event in shown:
                click.echo(event_line(event))
            sys.stdout.flush()
            body.update(epoch=reply["epoch"], after=reply["next"],
                        since=max([body["since"], *(e["time"] + 1 for e in shown)]))
            if until_ns and time.time_ns() >= until_ns and not reply["more"]:
                return
    except KeyboardInterrupt:
        sys.exit(130)
