"""Who may hold a lease, judged from the store alone.

The same rules serve the store, which applies them deterministically to each lease op (actors/raft/store.py),
and the lease holders, which read them on their views to know when asking can succeed and when a lease they
do not hold is dead.

A lease's holder is named ``NODE`` or ``NODE/what``: the node its process runs on. The facts read, all in the
store: the lease's ``Expires`` (store time), and each manager node's ``ManagerStatus`` as the Raft leader
publishes it (actors/raft/roles.py): which member leads, and which members it has not heard from within
REACHABLE_SECONDS (``Reachability: unreachable``).

- A lease is *live* while it has not expired and its holder's node is not a member the leader reports
  unreachable. A dead manager's leases are so recognised as soon as the leader publishes it unreachable
  (well under a second after its last message), not when their TTL runs out.
- A holder may always renew its own lease.
- A *leader-following* lease (the single controllers': they run where the Raft leader is, so their writes are
  not forwarded) is taken from a live holder on another node by a holder on the leader's node. When it is
  not live, only a holder on the leader's node may take it, until it has been expired for ``ttl`` more
  seconds: then anyone may (the leader's own controller is not running).
- Any other lease that is not live may be taken by anyone.
"""

from __future__ import annotations

from typing import Mapping

UNREACHABLE = "unreachable"


def holder_node(holder: str) -> str:
    """The node a holder's process runs on: the part of its name before the first ``/``."""
    return holder.split("/", 1)[0]


def leader(nodes: Mapping[str, dict]) -> str | None:
    """The node whose ``ManagerStatus`` says it leads (None when none or several do)."""
    leaders = [node_id for node_id, node in nodes.items() if (node.get("ManagerStatus") or {}).get("Leader")]
    return leaders[0] if len(leaders) == 1 else None


def unreachable(nodes: Mapping[str, dict], node_id: str) -> bool:
    """True when ``node_id`` is a Raft member the leader has published as unreachable."""
    status = (nodes.get(node_id) or {}).get("ManagerStatus") or {}
    return status.get("Reachability") == UNREACHABLE


def is_live(lease: dict | None, nodes: Mapping[str, dict], now: float) -> bool:
    """True while ``lease`` has not expired at ``now`` and its holder's node is not an unreachable member."""
    return lease is not None and lease["Expires"] >= now and not unreachable(nodes, holder_node(lease["Holder"]))


def refusal(lease: dict | None, holder: str, nodes: Mapping[str, dict], now: float, ttl: float,
            follows_leader: bool) -> str | None:
    """Why ``holder`` may not take or renew ``lease`` (the lease as the store has it, None when there is none)
    at ``now``; None when it may. ``ttl`` is the lease time it asks for."""
    if lease is None or lease["Holder"] == holder:
        return None
    name, current = lease["ID"], lease["Holder"]
    if is_live(lease, nodes, now):
        if follows_leader and holder_node(holder) == leader(nodes) != holder_node(current):
            return None
        return f"lease {name!r} is held by {current} until {lease['Expires']:.3f}"
    leading = leader(nodes) if follows_leader else None
    if leading is not None and holder_node(holder) != leading and now <= lease["Expires"] + ttl:
        return f"lease {name!r} is kept for a holder on the leader {leading} until {lease['Expires'] + ttl:.3f}"
    return None
