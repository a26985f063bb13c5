"""shoald's own metrics: which actor processes run, and how often each was restarted.

Served on the host's ``shoald`` metrics port (HostConfig.metrics_port) and metrics address. Each
actor process's series exist from its first start (the counter at 0), and go
when the host's role no longer has the actor.
"""

from __future__ import annotations

import ssl

from prometheus_client import Counter, Gauge

from actors.common import metricsserver, webconfig
from actors.common.hostconfig import SUPERVISOR, HostConfig
from actors.common.series import remove_series

RESTARTS = Counter("shoal_actor_restarts_total", "Times shoald restarted the actor's process after it exited", ["actor"])
UP = Gauge("shoal_actor_up", "1 while the actor's process runs, 0 while it waits to be restarted", ["actor"])


def serve(config: HostConfig) -> str | None:
    """Serve the metrics on the host's metrics address and shoald's port, with its web config (TLS, basic
    auth: actors/common/metricsserver.py); the error's text if that cannot be done, else None."""
    try:
        metricsserver.serve(config.metrics_addr, config.metrics_port(SUPERVISOR),
                            webconfig.load(config.metrics_web_config), {})
    except (OSError, ssl.SSLError, webconfig.WebConfigError) as exc:
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
