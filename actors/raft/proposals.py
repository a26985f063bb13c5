"""Several proposals in one Raft entry: how the leader packs them and how every member applies them.

Proposals that reach the leader together (in one pass of its event loop) go
into one entry rather than one entry each, so a burst of writes costs one log
row, one entry in each append message and one change-stream batch instead of
one per write. A normal entry's data is ``{"time": T, "proposals": [P, ...]}``:
T is the time the leader stamped on all of them, each P is one proposal
``[request id, batch]`` encoded by itself (so a batch nests no deeper in the
entry than in the request that carried it, and the codec's depth limit holds
for every entry a request can make).

Each proposal applies on its own, in the order the leader received them:
all of its ops or none, with its own result, so one proposal's conflict
leaves the others alone. The entry's changes are published as one
change-stream batch numbered by the entry's log index, so the stream's
numbering stays gap-free.

An object's version stays the log index of the entry that wrote it, which is
one write only while no two proposals of an entry write the same object: a
proposal that names an object an earlier one of the entry names starts a new
entry (:meth:`ProposalQueue.take`), and the store refuses what slips through
(:mod:`actors.raft.store`). So two racing version-checked writes of one object
land in two entries, and the second sees the first's version.

An entry written before entries carried several proposals
(``{"id", "time", "batch"}``) applies as one proposal.
"""

from __future__ import annotations

from actors.raft.store import Change, Store
from transport import codec

# One entry carries at most this many proposals, and more than one only while their encodings
# add up to at most ENTRY_BYTES: a large write then travels alone, a burst of small ones together.
ENTRY_PROPOSALS = 512
ENTRY_BYTES = 1024 * 1024
# Room for an entry's own fields around one proposal, within the codec's message limit.
ENTRY_HEADER_BYTES = 64


class ProposalQueue:
    """The proposals the leader received since it last handed entries to the Raft core."""

    def __init__(self):
        self._queued: list[tuple[str, bytes, frozenset | None]] = []

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, request_id: str, batch: dict) -> None:
        """Queue ``batch`` as proposal ``request_id``. CodecError when it cannot be encoded or is too
        large to fit an entry."""
        encoded = codec.encode([request_id, batch])
        if len(encoded) > codec.MAX_MESSAGE_BYTES - ENTRY_HEADER_BYTES:
            raise codec.CodecError(f"a proposal of {len(encoded)} bytes does not fit a log entry")
        self._queued.append((request_id, encoded, objects_named(batch)))

    def take(self, time: float) -> list[tuple[bytes, list[str]]]:
        """Empty the queue into entries stamped ``time``: ``(entry data, request ids)`` for each, in the
        order the proposals were queued. An entry holds at most ENTRY_PROPOSALS proposals and, unless
        it holds one, ENTRY_BYTES of them, and no two that name the same object (nor any proposal
        whose objects cannot be told with another)."""
        entries, ids, encoded, size, named = [], [], [], 0, set()
        for request_id, data, objects in self._queued:
            if ids and (len(ids) == ENTRY_PROPOSALS or size + len(data) > ENTRY_BYTES or named is None
                        or objects is None or not named.isdisjoint(objects)):
                entries.append((_entry(time, encoded), ids))
                ids, encoded, size, named = [], [], 0, set()
            ids.append(request_id)
            encoded.append(data)
            size += len(data)
            if objects is None:
                named = None  # closes the entry: nothing may join it
            else:
                named |= objects
        if ids:
            entries.append((_entry(time, encoded), ids))
        self._queued = []
        return entries


def objects_named(batch: dict) -> frozenset | None:
    """The ``(table, id)`` of every object ``batch``'s ops name, or None when an op is not one the
    store knows or lacks what names its object (the store will say what is wrong with it)."""
    named = set()
    try:
        for op in batch["ops"]:
            kind = op["op"]
            if kind in ("create", "update"):
                named.add((op["table"], op["object"]["ID"]))
            elif kind in ("patch", "delete"):
                named.add((op["table"], op["id"]))
            elif kind == "lease":
                named.add(("leases", op["name"]))
            else:
                return None
        return frozenset(named)
    except (KeyError, TypeError):
        return None


def _entry(time: float, encoded: list[bytes]) -> bytes:
    return codec.encode({"time": time, "proposals": encoded})


def apply_entry(store: Store, data: bytes, index: int) -> tuple[float, list[tuple[str, dict]], list[Change]]:
    """Apply the proposals of the normal entry at ``index`` (its ``data``) to ``store``, one by one.

    Returns ``(entry time, [(request id, result)], changes)``: each proposal's
    result as :meth:`Store.apply` gives it, and the changes of all of them in
    the order they were made."""
    payload = codec.decode(data)
    if "proposals" in payload:
        proposals = [codec.decode(encoded) for encoded in payload["proposals"]]
    else:  # an entry written before entries carried several proposals
        proposals = [(payload["id"], payload["batch"])]
    results, changes = [], []
    for request_id, batch in proposals:
        result, written = store.apply(batch, index, payload["time"])
        results.append((request_id, result))
        changes.extend(written)
    return payload["time"], results, changes
