"""``shoal events``: task and node transitions, as the control API's view sees them change (no IO).

:func:`transitions` turns one change of the view (table, old object, new
object) into events: a task whose observed state moved (created, each
state it reaches, removed), a node whose state or availability moved.
Each event carries the time the store recorded for it (the status's
timestamp), in nanoseconds. An :class:`EventLog` keeps the last EVENTS_KEPT
of them, numbered, and answers a follower's ``events`` request: those after
the last number it has (or, on its first request, those since a time),
matching its filters, at most EVENTS_PER_REPLY at once. The log lives in
the control API's memory: a restarted control API starts a new log (a new
``epoch``), and its follower goes on from the time of its last event.
"""

from __future__ import annotations

import collections
import secrets

from actors.common.loglines import parse_timestamp
from transport import limits, schema

EVENTS_PER_REPLY = 1000
FILTER_KEYS = frozenset({"service", "node", "type"})
TYPES = ("task", "node")


def _ns(text) -> int:
    try:
        return parse_timestamp(text) if isinstance(text, str) else 0
    except ValueError:
        return 0


def transitions(table: str, old: dict | None, new: dict | None) -> list[dict]:
    """The events of one change of ``table`` from ``old`` to ``new`` (None: absent): ``{"time", "type",
    "action", "id", "attributes"}``."""
    if table == "tasks":
        return _task_events(old, new)
    if table == "nodes" and new is not None:
        return _node_events(old, new)
    return []


def _task_events(old: dict | None, new: dict | None) -> list[dict]:
    task = new or old
    before = schema.get_path(old or {}, "Status.State")
    after = schema.get_path(new, "Status.State") if new is not None else "remove"
    if before == after:
        return []
    attributes = {"service": schema.get_path(task, "ServiceAnnotations.Name") or "", "serviceID": task.get("ServiceID", ""),
                  "node": task.get("NodeID") or "", "slot": str(task.get("Slot") or "")}
    if before:
        attributes["from"] = before
    message = schema.get_path(new or {}, "Status.Err") or schema.get_path(new or {}, "Status.Message") or ""
    if message:
        attributes["message"] = message[:200]
    when = _ns(schema.get_path(new, "Status.Timestamp")) if new is not None else 0
    return [{"time": when or _ns(task.get("UpdatedAt")), "type": "task", "action": after, "id": task["ID"],
             "attributes": attributes}]


def _node_events(old: dict | None, new: dict) -> list[dict]:
    events = []
    attributes = {"name": schema.get_path(new, "Description.Hostname") or "", "role": schema.get_path(new, "Spec.Role") or ""}
    for path, time_path in (("Status.State", "Status.Timestamp"), ("Spec.Availability", "UpdatedAt")):
        before, after = schema.get_path(old or {}, path), schema.get_path(new, path)
        if after and before != after:
            events.append({"time": _ns(schema.get_path(new, time_path)) or _ns(new.get("UpdatedAt")), "type": "node",
                           "action": after, "id": new["ID"],
                           "attributes": {**attributes, **({"from": before} if before else {})}})
    return events


def checked_filters(value) -> dict[str, set[str]]:
    """``{key: [values]}`` of an events request, checked: keys service, node, type; ValueError otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict) or any(key not in FILTER_KEYS for key in value) or not all(
            isinstance(values, list) and len(values) <= limits.LIST_ITEMS and all(isinstance(v, str) for v in values)
            for values in value.values()):
        raise ValueError(f"filters are {{key: [values]}} with keys {', '.join(sorted(FILTER_KEYS))}")
    return {key: set(values) for key, values in value.items() if values}


def matches(event: dict, filters: dict[str, set[str]]) -> bool:
    """True when ``event`` passes every filter key (one of its values): service by name or id, node by id
    or hostname, type."""
    attributes = event["attributes"]
    if "type" in filters and event["type"] not in filters["type"]:
        return False
    if "service" in filters and not {attributes.get("service"), attributes.get("serviceID")} & filters["service"]:
        return False
    if "node" in filters:
        names = {attributes.get("node")} if event["type"] == "task" else {event["id"], attributes.get("name")}
        if not names & filters["node"]:
            return False
    return True


class EventLog:
    """The last ``kept`` events, numbered from 1 in the order seen; ``epoch`` names this log."""

    def __init__(self, kept: int = limits.EVENTS_KEPT):
        self._events: collections.deque = collections.deque(maxlen=kept)
        self.last = 0
        self.epoch = secrets.token_hex(8)

    def record(self, table: str, object_id: str, old: dict | None, new: dict | None) -> bool:
        """Add the events of one change of the view; True if there were any."""
        found = transitions(table, old, new)
        for event in found:
            self.last += 1
            self._events.append({**event, "seq": self.last})
        return bool(found)

    def reply(self, epoch: str, after: int | None, since: int, filters: dict[str, set[str]]) -> dict:
        """A follower's next events: those after number ``after`` of this log (``epoch``), or, from another
        log or on a first request, those at or after time ``since`` (none for 0: only what comes);
        ``{"epoch", "next", "events", "more"}``, ``next`` being the number to ask after next time."""
        if epoch != self.epoch or after is None:
            chosen = [e for e in self._events if e["time"] >= since] if since else []
        else:
            chosen = [e for e in self._events if e["seq"] > after]
        chosen = [e for e in chosen if matches(e, filters)]
        more = len(chosen) > EVENTS_PER_REPLY
        chosen = chosen[:EVENTS_PER_REPLY]
        upto = chosen[-1]["seq"] if more else self.last
        return {"epoch": self.epoch, "next": upto, "more": more,
                "events": [{key: value for key, value in e.items() if key != "seq"} for e in chosen]}
