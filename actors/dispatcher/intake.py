"""What a node may send the dispatcher, checked before anything of it is proposed.

A node's executor sends its ``description`` and ``addr`` when it opens a
session, and batches of task ``Status`` reports afterwards (each may carry
the container's ``Health`` beside the Status fields: model.status_report). These checks run
the object model's field rules (transport/model.py) on them, so the store
never sees a malformed report and a node's garbage costs it only that
report: :func:`checked_reports` keeps the valid entries and names the
refused ones, :func:`checked_session` raises :class:`model.Invalid`.
"""

from __future__ import annotations

import dataclasses

from transport import limits, model


@dataclasses.dataclass
class CheckedReports:
    """A status batch split into the entries to propose and why each other entry was refused."""

    valid: dict[str, dict]
    refused: list[str]


def checked_reports(updates) -> CheckedReports:
    """Split ``updates`` (task id -> Docker task ``Status``, with an optional ``Health``) into valid
    and refused entries.

    Raises Invalid when ``updates`` is not a map or holds more than BATCH_OPS entries.
    """
    if not isinstance(updates, dict):
        raise model.Invalid("updates", "must map task ids to statuses")
    if len(updates) > limits.BATCH_OPS:
        raise model.Invalid("updates", f"{len(updates)} reports, more than the limit of {limits.BATCH_OPS}")
    checked = CheckedReports({}, [])
    for task_id, status in updates.items():
        try:
            model.object_id(task_id, "task id")
            model.status_report(status, f"{task_id}.Status")
        except model.Invalid as exc:
            checked.refused.append(str(exc))
        else:
            checked.valid[task_id] = status
    return checked


def checked_session(body: dict) -> tuple[dict, str]:
    """The ``(description, addr)`` a node sent with its session, valid for its node object; Invalid if not."""
    description = body.get("description") or {}
    addr = body.get("addr", "")
    model.node_description(description, "description")
    model.address(addr, "addr")
    return description, addr
