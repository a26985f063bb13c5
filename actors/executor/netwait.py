"""A task's container is created only once the host has programmed its networks: a pure decision.

A task on networks (its ``NetworksAttachments``) needs each of them on its
host before its container can be attached: the overlay plane's bridge, with
the VXLAN device and the task's address range (actors/network/agent.py,
``has_networks``). Until then :func:`gate_creates` holds its Create back;
the executor decides again after each change of the network agent. A task
is rejected with the reason once held FAILING_PATIENCE while the overlay
plane fails (it retried a few times meanwhile), or NETWORK_PATIENCE in any
case (its network never reached this host); the orchestrator then replaces
it, as for any task its node could not start.
Times are passed in: ``now`` on a monotonic clock, ``stamp`` the wall time
a status carries.
"""

from __future__ import annotations

from typing import Callable

from actors.executor import core
from transport import schema

NETWORK_PATIENCE = 30.0  # seconds a task waits for its networks before it is rejected
FAILING_PATIENCE = 8.0  # the same while the overlay plane fails: about five tries, at its back-off


def task_networks(task: dict) -> dict[str, str]:
    """Network id -> name (the id when the attachment names none) of the networks the task is attached to."""
    found = {}
    for attachment in task.get("NetworksAttachments") or ():
        network_id = schema.get_path(attachment, "Network.ID")
        if network_id:
            found[network_id] = schema.get_path(attachment, "Network.Spec.Name") or network_id
    return found


def gate_creates(actions: list, has_networks: Callable[[set], bool], failure: str | None,
                 waiting: dict[str, float], now: float,
                 stamp: float) -> tuple[list, list[core.Report], dict[str, float]]:
    """``actions`` without the Creates of tasks whose networks the host does not have yet, the rejection
    reports of those held too long (see the module's docstring), and the new ``waiting`` (task id -> when
    its Create was first held; pass it back next time).

    ``has_networks(ids)`` says whether the host has programmed every network of ``ids``; ``failure`` is
    why the overlay plane failed its last apply (None when it did not).
    """
    kept, rejected, still = [], [], {}
    for action in actions:
        networks = task_networks(action.task) if isinstance(action, core.Create) else {}
        if not networks or has_networks(set(networks)):
            kept.append(action)
            continue
        since = waiting.get(action.task_id, now)
        patience = NETWORK_PATIENCE if failure is None else FAILING_PATIENCE
        if now - since < patience:
            still[action.task_id] = since
            continue
        names = ", ".join(sorted(name for network_id, name in networks.items() if not has_networks({network_id})))
        why = failure or "the host was not told of it"
        err = f"network {names} could not be programmed on this node within {patience:g}s: {why}"
        rejected.append(core.Report(action.task_id, core.rejected_status("network not ready", err, stamp)))
    return kept, rejected, still
