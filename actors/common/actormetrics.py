"""shoald's own metrics: which actor processes run, and how often each was restarted.

Served on the host's ``shoald`` metrics port (HostConfig.metrics_port). Each
actor process's series exist from its first start (the counter at 0), and go
when the host's role no longer has the actor.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import Counter, Gauge

from actors.common.series import remove_series

RESTARTS = Counter("shoal_actor_restarts_total", "Times shoald restarted the actor's process after it exited", ["actor"])
UP = Gauge("shoal_actor_up", "1 while the actor's process runs, 0 while it waits to be restarted", ["actor"])


def serve(port: int) -> str | None:
    """Serve the metrics on 127.0.0.1:``port``; the error's text if that cannot be done, else None."""
    try:
        prometheus_client.start_http_server(port, addr="127.0.0.1")
    except OSError as exc:
        return str(exc)
    return None


def started(actor: str, restart: bool) -> None:
    """The process of ``actor`` was started (``restart``: again, after it exited)."""
    counter = RESTARTS.labels(actor)
    if restart:
        counter.inc()
    UP.labels(actor).set(1)


def exited(actor: str) -> None:
    """The process of ``actor`` exited; it waits for its restart."""
    UP.labels(actor).set(0)


def removed(actor: str) -> None:
    """``actor`` is no longer one of the host's: drop its series."""
    for metric in (RESTARTS, UP):
        remove_series(metric, actor)
