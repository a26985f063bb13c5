"""Global services: one task on every node that may take it (Docker's ``--mode global``).

A global task is made for one node and created already assigned to it (the
scheduler only confirms that the node passes its filters). Per node, by
:class:`~actors.orchestrator.eligibility.NodeRules`:

- the node takes new tasks (ready, active, constraints hold) → the node is a
  slot of :class:`~actors.orchestrator.slots.SlotReconciler`: one current
  task, restarted under the restart policy, and replaced within the update
  policy when the spec changes (update.py, the node id as the slot key);
- the tasks must leave it (down, gone, drained, constraints no longer hold)
  → its current tasks are shut down, and none replaces them;
- otherwise (paused, or not ready yet) → what runs there keeps running;
  nothing new is added.

A node that joins, comes back or starts qualifying gets its task on the next pass.
"""

from __future__ import annotations

from actors.common.viewindex import wants_running
from actors.orchestrator.slots import ServicePass, SlotReconciler, shutdown
from actors.orchestrator.update import plan_update


def reconcile_global(service_pass: ServicePass) -> None:
    """Add the ops that give the service one current task of its spec on each node that takes new
    tasks (rolling out a new spec within the update policy), and shut down its tasks on nodes they
    must leave."""
    histories = service_pass.index.service_nodes(service_pass.service["ID"])
    eligible = {node_id: history for node_id, history in histories.items() if takes_new_tasks(service_pass, node_id)}
    update = plan_update(service_pass.service, eligible, service_pass.now, service_pass.must_leave)
    service_pass.apply_update(update, lambda node_id: service_pass.create(0, attempt=0, node_id=node_id))
    for node_id in node_ids(service_pass, histories):
        if node_id not in update.claimed:
            reconcile_node(service_pass, node_id, histories.get(node_id, []))


def node_ids(service_pass: ServicePass, histories: dict[str, list[dict]]) -> list[str]:
    """Every node to decide for, in order: the cluster's nodes and those the service has tasks on."""
    return sorted(set(histories) | set(service_pass.index.nodes))


def takes_new_tasks(service_pass: ServicePass, node_id: str) -> bool:
    """True if ``node_id`` is a node that may be given a new task of the service."""
    node = service_pass.index.nodes.get(node_id)
    return node is not None and service_pass.rules.takes_new_tasks(node)


def reconcile_node(service_pass: ServicePass, node_id: str, history: list[dict]) -> None:
    """Decide for the service's tasks on ``node_id`` (``history``, oldest first)."""
    if not node_id or service_pass.must_leave(node_id):
        service_pass.decision.ops.extend(shutdown(task) for task in history if wants_running(task))
    elif takes_new_tasks(service_pass, node_id):
        SlotReconciler(service_pass, slot=0, node_id=node_id).run(history)
