"""The cluster's heartbeat period: how often each node's executor heartbeats its dispatcher.

It is stored in nanoseconds in the cluster object's ``Spec.Dispatcher.HeartbeatPeriod``: ``swarm init``
writes DEFAULT_NS, ``swarm update --dispatcher-heartbeat`` changes it. Dispatchers read it from their
view, so they follow updates. As in Swarm, each node is handed the period plus a random part (up to
JITTER of it) with every heartbeat reply, so that nodes which connected together drift apart and
spread the dispatcher's load. A node unheard for GRACE_PERIODS of the longest period it may have been
handed is taken for gone: 1.5 s at the default of 250 ms.
"""

from __future__ import annotations

NS = 1_000_000_000
DEFAULT_NS = 250_000_000
MIN_NS = 50_000_000  # below this the heartbeats alone would keep a dispatcher busy
MAX_NS = 300 * NS  # beyond this a lost node would go unnoticed for half an hour
JITTER = 0.2
GRACE_PERIODS = 5


def period(cluster: dict | None) -> float:
    """The cluster's heartbeat period in seconds; DEFAULT_NS's when the cluster or its setting is absent."""
    stored = ((cluster or {}).get("Spec", {}).get("Dispatcher") or {}).get("HeartbeatPeriod")
    return (stored if stored else DEFAULT_NS) / NS


def jittered(base: float, draw: float) -> float:
    """The period handed to one node: ``base`` seconds plus ``draw`` (in [0, 1)) times JITTER of it."""
    return base * (1 + JITTER * draw)


def grace(base: float) -> float:
    """Seconds a session may go unheard before its node is taken for gone, for a period of ``base`` seconds."""
    return base * (1 + JITTER) * GRACE_PERIODS


def refusal(value_ns) -> str | None:
    """Why ``value_ns`` cannot be the heartbeat period (a message naming the bounds), or None when it can."""
    if isinstance(value_ns, int) and not isinstance(value_ns, bool) and MIN_NS <= value_ns <= MAX_NS:
        return None
    number = isinstance(value_ns, (int, float)) and not isinstance(value_ns, bool)
    shown = f"{value_ns / 1_000_000:g}ms" if number else repr(value_ns)
    return (f"invalid dispatcher heartbeat period {shown}: it must be between "
            f"{MIN_NS // 1_000_000}ms and {MAX_NS // NS}s")
