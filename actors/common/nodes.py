"""What a node's state and availability allow: one definition for the scheduler's first filter, the
orchestrator's node rules and the CLI's progress of a global service."""

from __future__ import annotations

from transport import schema


def availability(node: dict) -> str:
    """The node's ``Spec.Availability`` (``active`` when unset)."""
    return schema.get_path(node, "Spec.Availability") or schema.ACTIVE


def takes_new_tasks(node: dict) -> bool:
    """True if the node may be given new tasks: it is ``ready`` and its availability is ``active``
    (a paused or drained node, or one not known to be up, takes none)."""
    return schema.get_path(node, "Status.State") == schema.NODE_READY and availability(node) == schema.ACTIVE
