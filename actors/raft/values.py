"""Raft's value types: log entries, hard and soft state, snapshots, messages, Ready and the config.

Everything here is plain data. :class:`Message` converts to and from a dict of
msgpack-able values (ints, strings, bytes, bools, lists, dicts, None) so the
actor can put it on the wire; :meth:`Message.from_dict` checks every field and
raises ``ValueError`` for anything malformed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENTRY_KINDS = ("normal", "config", "noop")

MESSAGE_TYPES = frozenset({
    "pre_vote", "pre_vote_resp", "vote", "vote_resp",
    "append", "append_resp", "heartbeat", "heartbeat_resp",
    "snapshot", "timeout_now", "read_index", "read_index_resp",
})


class NotLeader(Exception):
    """The operation needs the leader; ``leader`` is the leader this member knows of (or None)."""

    def __init__(self, leader: str | None, message: str = "not the leader"):
        super().__init__(message if leader is None else f"{message}; the leader is {leader}")
        self.leader = leader


class ConfChangeRefused(ValueError):
    """A membership change that cannot be made now (one is pending, or it makes no sense)."""


@dataclass(frozen=True)
class Entry:
    """One log entry. ``kind`` is "normal" (application data), "config" (a membership change) or "noop"."""

    index: int
    term: int
    kind: str = "normal"
    data: bytes = b""

    def to_list(self) -> list:
        """The entry as ``[index, term, kind, data]``."""
        return [self.index, self.term, self.kind, self.data]

    @classmethod
    def from_list(cls, value) -> Entry:
        """The inverse of :meth:`to_list`; ``ValueError`` if ``value`` is not a well-formed entry."""
        if not isinstance(value, (list, tuple)) or len(value) != 4:
            raise ValueError("an entry is [index, term, kind, data]")
        index, term, kind, data = value
        _check_index(index, "entry index")
        _check_index(term, "entry term")
        if kind not in ENTRY_KINDS:
            raise ValueError(f"unknown entry kind {kind!r}")
        if not isinstance(data, bytes):
            raise ValueError("entry data must be bytes")
        return cls(index, term, kind, data)


@dataclass
class HardState:
    """What must be on disk before any message that depends on it is sent."""

    term: int = 0
    vote: str | None = None
    commit: int = 0


@dataclass
class SoftState:
    """Volatile state worth reporting: who leads and what this member is."""

    leader: str | None
    role: str


@dataclass
class SnapshotMeta:
    """The last index and term a snapshot covers and the membership in force at that index."""

    index: int
    term: int
    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()


@dataclass
class Snapshot:
    """A snapshot: the application's state (opaque bytes) up to ``meta.index``."""

    meta: SnapshotMeta
    data: bytes

    def to_dict(self) -> dict:
        """The snapshot as a plain dict."""
        return {"index": self.meta.index, "term": self.meta.term, "voters": list(self.meta.voters),
                "learners": list(self.meta.learners), "data": self.data}

    @classmethod
    def from_dict(cls, value) -> Snapshot:
        """The inverse of :meth:`to_dict`; ``ValueError`` if malformed."""
        if not isinstance(value, dict):
            raise ValueError("a snapshot is a map")
        try:
            index, term = value["index"], value["term"]
            voters, learners, data = value["voters"], value["learners"], value["data"]
        except KeyError as missing:
            raise ValueError(f"snapshot lacks {missing}") from None
        _check_index(index, "snapshot index")
        _check_index(term, "snapshot term")
        if not isinstance(data, bytes):
            raise ValueError("snapshot data must be bytes")
        return cls(SnapshotMeta(index, term, _node_ids(voters), _node_ids(learners)), data)


@dataclass
class ReadState:
    """A linearizable read may be served once this member has applied ``index`` (it has, when reported)."""

    index: int
    context: bytes


@dataclass
class Message:
    """A message between members.

    Field use by type: ``append`` carries the previous entry's ``index`` and
    ``log_term``, ``entries`` and the leader's ``commit``; ``append_resp``
    carries the follower's last matching ``index``, or ``reject`` with the
    rejected ``index``, a ``reject_hint`` (an index the follower's log may
    match at) and ``log_term`` (the follower's term at that hint);
    ``vote``/``pre_vote`` carry the candidate's last ``index`` and
    ``log_term``; ``heartbeat`` carries ``commit``; ``snapshot`` carries
    ``snapshot``; ``context`` tags read-index rounds and forced (transfer)
    elections.
    """

    type: str
    to: str
    frm: str
    term: int
    log_term: int = 0
    index: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""

    def to_dict(self) -> dict:
        """The message as a dict of msgpack-able values (entries as lists, bytes kept as bytes)."""
        return {"type": self.type, "to": self.to, "frm": self.frm, "term": self.term,
                "log_term": self.log_term, "index": self.index,
                "entries": [entry.to_list() for entry in self.entries], "commit": self.commit,
                "reject": self.reject, "reject_hint": self.reject_hint,
                "snapshot": None if self.snapshot is None else self.snapshot.to_dict(),
                "context": self.context}

    def check(self) -> None:
        """``ValueError`` unless this is a well-typed message (a cheap check of a decoded message)."""
        if self.type not in MESSAGE_TYPES or not isinstance(self.to, str) or not isinstance(self.frm, str):
            raise ValueError("not a Raft message")
        for number in (self.term, self.log_term, self.index, self.commit, self.reject_hint):
            if not isinstance(number, int) or number < 0:
                raise ValueError("message numbers must be non-negative integers")
        if not all(isinstance(entry, Entry) for entry in self.entries):
            raise ValueError("message entries must be Entry objects")
        if self.type == "snapshot" and not isinstance(self.snapshot, Snapshot):
            raise ValueError("a snapshot message without a snapshot")

    @classmethod
    def from_dict(cls, value) -> Message:
        """The inverse of :meth:`to_dict`; ``ValueError`` for any malformed field."""
        if not isinstance(value, dict):
            raise ValueError("a message is a map")
        try:
            kind, to, frm = value["type"], value["to"], value["frm"]
            numbers = {name: value[name] for name in ("term", "log_term", "index", "commit", "reject_hint")}
            entries, reject, snapshot, context = value["entries"], value["reject"], value["snapshot"], value["context"]
        except KeyError as missing:
            raise ValueError(f"message lacks {missing}") from None
        if kind not in MESSAGE_TYPES:
            raise ValueError(f"unknown message type {kind!r}")
        if not isinstance(to, str) or not isinstance(frm, str):
            raise ValueError("message to/frm must be strings")
        for name, number in numbers.items():
            _check_index(number, name)
        if not isinstance(entries, (list, tuple)):
            raise ValueError("message entries must be a list")
        if not isinstance(reject, bool):
            raise ValueError("message reject must be a bool")
        if not isinstance(context, bytes):
            raise ValueError("message context must be bytes")
        return cls(type=kind, to=to, frm=frm, entries=[Entry.from_list(entry) for entry in entries],
                   reject=reject, snapshot=None if snapshot is None else Snapshot.from_dict(snapshot),
                   context=context, **numbers)


@dataclass
class Ready:
    """Work for the caller, in this order: persist ``hard_state``, ``entries`` and ``snapshot``
    (fsync); then send ``messages``; install ``snapshot`` and apply ``committed_entries``; serve
    ``read_states``; then call :meth:`RaftCore.advance` with this Ready. Without a snapshot, the
    committed entries (durable on a majority) and the reads may come first, before the persist."""

    hard_state: HardState | None = None
    entries: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    messages: list[Message] = field(default_factory=list)
    committed_entries: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    soft_state: SoftState | None = None


@dataclass
class RaftConfig:
    """Tunables of one member. Ticks are the caller's clock unit (``RaftCore.tick`` calls)."""

    node_id: str
    election_tick: int = 10
    heartbeat_tick: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    max_inflight: int = 256
    max_entries_per_msg: int = 1024
    seed: int | None = None

    def validate(self) -> None:
        """``ValueError`` unless the values make sense together."""
        if not isinstance(self.node_id, str) or not self.node_id:
            raise ValueError("node_id must be a non-empty string")
        if self.heartbeat_tick < 1 or self.election_tick <= self.heartbeat_tick:
            raise ValueError("need 1 <= heartbeat_tick < election_tick")
        if self.max_inflight < 1 or self.max_entries_per_msg < 1:
            raise ValueError("max_inflight and max_entries_per_msg must be positive")


def _check_index(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")


def _node_ids(value) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(node, str) for node in value):
        raise ValueError("a node list must be a list of strings")
    return tuple(value)
