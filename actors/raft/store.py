"""The store: Shoal's replicated state machine.

Tables of versioned objects, changed only by applying committed batches in
log order. :meth:`Store.apply` is deterministic: it depends only on the
store's contents, the batch, the log index and the entry's time (stamped by
the leader when it accepted the proposal), so every member that applies the
same log holds the same store. See docs/architecture.md for the op formats.

An object's version is the log index of the entry that last wrote it. One
entry may carry several batches (:mod:`actors.raft.proposals`), so that
version names one write only because no two batches of an entry write the
same object: the leader packs entries so, and :meth:`Store.apply` refuses a
batch that would write an object an earlier batch of its entry wrote (code
``conflict``), so a version-checked write can never mistake one of two
writes for the other.
"""

from __future__ import annotations

import copy
import dataclasses

from actors.common import leases
from actors.common.sharing import SharedParts
from actors.raft import references
from transport import limits, model, schema


class BatchRejected(Exception):
    """A batch that cannot apply; nothing of it was applied."""

    def __init__(self, code: str, message: str, op: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.op = op

    def to_dict(self) -> dict:
        """The error as sent back to the proposer."""
        return {"code": self.code, "message": self.message, "op": self.op}


@dataclasses.dataclass
class Change:
    """One object written by a batch, as published on the change stream."""

    table: str
    id: str
    action: str  # create | update | delete
    object: dict

    def to_dict(self) -> dict:
        """Plain-dict form for the wire."""
        return {"table": self.table, "id": self.id, "action": self.action, "object": self.object}


class Store:
    """Tables of objects; apply batches, take and restore snapshots."""

    def __init__(self):
        self.tables: dict[str, dict[str, dict]] = {name: {} for name in schema.TABLES}
        self.index = 0
        self._shared = SharedParts()  # tasks written whole point at one copy of what their service's share

    # -- reading ---------------------------------------------------------
    def get(self, table: str, object_id: str) -> dict | None:
        """The object ``object_id`` of ``table``, or None."""
        return self._table(table).get(object_id)

    def list(self, table: str) -> list[dict]:
        """All objects of ``table``."""
        return list(self._table(table).values())

    def snapshot(self) -> dict:
        """A consistent copy of the whole store, ``{"index": N, "tables": {...}}``, cheap at any size.

        Each table's dict is copied and the objects are shared: a committed
        object is never mutated (every write puts a fresh copy in its place),
        so later writes leave the copy as it was. Callers must not mutate the
        objects either.
        """
        return {"index": self.index, "tables": {name: dict(objects) for name, objects in self.tables.items()}}

    def restore(self, snapshot: dict) -> None:
        """Replace the store's contents with ``snapshot`` (as made by :meth:`snapshot`)."""
        tables = {name: {} for name in schema.TABLES}
        for name, objects in snapshot.get("tables", {}).items():
            tables[name] = dict(objects)
        self.tables = tables
        self.index = int(snapshot.get("index", 0))
        self._shared.clear()
        for task_id, task in tables["tasks"].items():  # copied first: the snapshot's objects may be another store's
            tables["tasks"][task_id] = task = dict(task)
            self._shared.share(task)

    # -- writing ---------------------------------------------------------
    def apply(self, batch: dict, index: int, now: float) -> tuple[dict, list[Change]]:
        """Apply ``batch`` at log ``index`` with entry time ``now``.

        Returns ``(result, changes)``: on success result is
        ``{"index": index, "results": [...]}``; a rejected batch changes
        nothing and returns ``({"error": {...}}, [])``. Either way the store's
        index advances to ``index``.
        """
        self.index = index
        try:
            ops = batch.get("ops")
            if not isinstance(ops, list) or not ops:
                raise BatchRejected("invalid", "a batch needs a non-empty list of ops")
            if len(ops) > limits.BATCH_OPS:
                raise BatchRejected("invalid", f"a batch of {len(ops)} ops, more than the limit of {limits.BATCH_OPS}")
            self._check_fence(batch.get("fence"), now)
            work = _Transaction(self.tables, index, now, self._shared)
            results = [work.apply_op(number, op) for number, op in enumerate(ops)]
        except BatchRejected as rejected:
            return {"error": rejected.to_dict()}, []
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return {"error": {"code": "invalid", "message": f"malformed op: {exc}", "op": None}}, []
        work.commit()
        return {"index": index, "results": results}, work.changes

    def _check_fence(self, fence, now: float) -> None:
        if not fence:
            return
        lease = self.tables["leases"].get(fence["lease"])
        if lease is None or lease["Epoch"] != fence["epoch"] or lease["Expires"] < now:
            raise BatchRejected("fenced", f"lease {fence['lease']!r} epoch {fence['epoch']} is no longer held")

    def _table(self, table: str) -> dict[str, dict]:
        """The table a read names; KeyError (a malformed request, to the API) when there is none."""
        if not isinstance(table, str) or table not in self.tables:
            raise KeyError(f"unknown table {model.shown(table)}")
        return self.tables[table]


class _Transaction:
    """Applies ops to a private overlay; commit() makes them visible all at once."""

    def __init__(self, tables: dict[str, dict[str, dict]], index: int, now: float, shared: SharedParts):
        self._tables = tables
        self._shared = shared
        self._index = index
        self._now = now
        self._stamp = schema.format_time(now)
        self._overlay: dict[tuple[str, str], dict | None] = {}
        self.changes: list[Change] = []

    def _current(self, table: str, object_id: str) -> dict | None:
        key = (table, object_id)
        if key in self._overlay:
            return self._overlay[key]
        return self._tables[table].get(object_id)

    def _write(self, table: str, object_id: str, obj: dict | None, action: str, before: dict | None) -> None:
        """Record a write in the overlay; a written object must be valid (transport/model.py), and not
        written already by an earlier batch of the same entry (see the module's docstring)."""
        if (table, object_id) not in self._overlay and before is not None and schema.version_of(before) == self._index:
            raise BatchRejected("conflict", f"{noun(table)} {object_id} was written by another proposal of "
                                            f"log entry {self._index}")
        if obj is not None:
            try:
                model.check_object(table, obj)
            except model.Invalid as exc:
                raise BatchRejected("invalid", f"invalid {noun(table)} {model.shown(object_id)}: {exc}") from None
        self._overlay[(table, object_id)] = obj
        self.changes.append(Change(table, object_id, action, obj if obj is not None else before))

    def apply_op(self, number: int, op: dict):
        """Apply one op to the overlay; returns its result or raises BatchRejected.

        The result of a lease op is the lease; of any other write, the written
        object's ``{"ID", "Version"}`` only, so that the reply to a small
        proposal stays small however large the objects it touches."""
        kind = op.get("op")
        handler = {"create": self._create, "update": self._update, "patch": self._patch,
                   "delete": self._delete, "lease": self._lease}.get(kind)
        if handler is None:
            raise BatchRejected("invalid", f"unknown op {kind!r}", number)
        if kind != "lease" and op.get("table") not in self._tables:
            raise BatchRejected("invalid", f"unknown table {op.get('table')!r}", number)
        try:
            written = handler(op)
        except BatchRejected as rejected:
            rejected.op = number
            raise
        return written if written is None or kind == "lease" else {"ID": written["ID"], "Version": written["Version"]}

    def _stamp_version(self, obj: dict, created_at: str | None) -> dict:
        obj["Version"] = {"Index": self._index}
        obj["CreatedAt"] = created_at or obj.get("CreatedAt") or self._stamp
        obj["UpdatedAt"] = self._stamp
        return obj

    def _check_version(self, table: str, object_id: str, current: dict, expected) -> None:
        if expected is not None and schema.version_of(current) != expected:
            raise BatchRejected("conflict", f"{noun(table)} {object_id} changed: version {schema.version_of(current)}, expected {expected}")

    def _check_name(self, table: str, obj: dict) -> None:
        if table not in schema.NAMED_TABLES:
            return
        name = schema.get_path(obj, "Spec.Name")
        if not name:
            raise BatchRejected("invalid", f"a {noun(table)} needs Spec.Name")
        for candidate in self._all(table):
            if candidate["ID"] != obj["ID"] and schema.get_path(candidate, "Spec.Name") == name:
                raise BatchRejected("name_conflict", f"{noun(table)} name {name!r} is already in use by {candidate['ID']}")

    def _check_referred(self, table: str, obj: dict) -> None:
        """A service's spec may name only objects that exist (references.py)."""
        if table != "services":
            return
        for referred_table, object_id in references.referred(obj.get("Spec") or {}):
            if self._current(referred_table, object_id) is None:
                raise BatchRejected("not_found", f"service {schema.get_path(obj, 'Spec.Name')!r} refers to "
                                                 f"{noun(referred_table)} {object_id}, which does not exist")

    def _check_unreferred(self, table: str, obj: dict) -> None:
        """An object some service's spec names may not be removed (references.py)."""
        for service in self._all("services"):
            if references.refers_to(service.get("Spec") or {}, table, obj["ID"]):
                raise BatchRejected("in_use", f"{noun(table)} {schema.get_path(obj, 'Spec.Name')!r} is in use by "
                                              f"service {schema.get_path(service, 'Spec.Name')!r}")

    def _all(self, table: str):
        seen = set()
        for (name, object_id), obj in self._overlay.items():
            if name == table:
                seen.add(object_id)
                if obj is not None:
                    yield obj
        for object_id, obj in self._tables[table].items():
            if object_id not in seen:
                yield obj

    def _create(self, op: dict) -> dict:
        table, obj = op["table"], copy.deepcopy(op["object"])
        object_id = obj.get("ID")
        if not isinstance(object_id, str) or not object_id:
            raise BatchRejected("invalid", "a created object needs an ID")
        if self._current(table, object_id) is not None:
            raise BatchRejected("exists", f"{noun(table)} {object_id} already exists")
        self._check_name(table, obj)
        self._check_referred(table, obj)
        self._stamp_version(obj, None)
        self._share(table, obj)
        self._write(table, object_id, obj, "create", None)
        return obj

    def _update(self, op: dict) -> dict:
        table, obj = op["table"], copy.deepcopy(op["object"])
        current = self._require(table, obj.get("ID"))
        self._check_version(table, obj["ID"], current, op.get("version"))
        self._check_name(table, obj)
        self._check_referred(table, obj)
        self._stamp_version(obj, current.get("CreatedAt"))
        self._share(table, obj)
        self._write(table, obj["ID"], obj, "update", current)
        return obj

    def _share(self, table: str, obj: dict) -> None:
        """Point a task written whole at the parts kept for its service (actors/common/sharing.py): its
        value is unchanged, and a patch copies what it changes (:func:`_set_path`), so sharing is safe."""
        if table == "tasks":
            self._shared.share(obj)

    def _target(self, op: dict) -> dict | None:
        """The object a patch or delete names, version-checked; None when missing and ``missing_ok``."""
        table, object_id = op["table"], op["id"]
        current = self._current(table, object_id)
        if current is None:
            if op.get("missing_ok"):
                return None
            raise BatchRejected("not_found", f"{noun(table)} {object_id} not found")
        self._check_version(table, object_id, current, op.get("version"))
        return current

    def _patch(self, op: dict) -> dict | None:
        table, object_id = op["table"], op["id"]
        current = self._target(op)
        if current is None:
            return None
        obj = dict(current)  # copied along each path set only: the rest is shared, and never mutated
        for path, value in op["set"].items():
            _set_path(obj, path, copy.deepcopy(value))
        self._check_name(table, obj)
        if references.touches_spec(op["set"]):
            self._check_referred(table, obj)
        self._stamp_version(obj, current.get("CreatedAt"))
        self._write(table, object_id, obj, "update", current)
        return obj

    def _delete(self, op: dict) -> None:
        current = self._target(op)
        if current is not None:
            if op["table"] == "services":
                self._shared.forget_service(op["id"])
            elif op["table"] in references.REFERRED_TABLES:
                self._check_unreferred(op["table"], current)
            self._write(op["table"], op["id"], None, "delete", current)
        return None

    def _lease(self, op: dict) -> dict:
        """Take or renew a lease under the rules of actors/common/leases.py (the nodes as committed before
        this batch); ``follow_leader`` marks a lease that belongs on the Raft leader's node."""
        name, holder, ttl = op["name"], op["holder"], float(op["ttl"])
        current = self._current("leases", name)
        refused = leases.refusal(current, holder, self._tables["nodes"], self._now, ttl, bool(op.get("follow_leader")))
        if refused is not None:
            raise BatchRejected("lease_held", refused)
        epoch = current["Epoch"] if current is not None and current["Holder"] == holder else (current["Epoch"] + 1 if current else 1)
        lease = {"ID": name, "Holder": holder, "Epoch": epoch, "Expires": self._now + ttl}
        self._stamp_version(lease, current.get("CreatedAt") if current else None)
        self._write("leases", name, lease, "update" if current else "create", current)
        return lease

    def _require(self, table: str, object_id) -> dict:
        current = self._current(table, object_id) if object_id else None
        if current is None:
            raise BatchRejected("not_found", f"{noun(table)} {object_id} not found")
        return current

    def commit(self) -> None:
        """Make the overlay's writes visible in the tables."""
        for (table, object_id), obj in self._overlay.items():
            if obj is None:
                self._tables[table].pop(object_id, None)
            else:
                self._tables[table][object_id] = obj


def noun(table: str) -> str:
    """``services`` -> ``service``: one object of ``table``, for messages."""
    return table[:-1] if table.endswith("s") else table


def _set_path(obj: dict, dotted: str, value) -> None:
    """Set ``dotted`` in ``obj`` to ``value``, replacing each dict on the way by a copy (a missing or
    non-dict one by a new dict): ``obj``'s nested dicts may be shared with a committed object."""
    keys = dotted.split(".")
    node = obj
    for key in keys[:-1]:
        child = node.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        node[key] = child
        node = child
    node[keys[-1]] = value
