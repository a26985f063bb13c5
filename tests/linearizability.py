"""A linearizability checker for histories recorded against the replicated store.

Concurrent test clients record every operation they send to the key-value
store as an ``Operation``: when it was invoked, when (and with what result)
its answer arrived, or that the answer never arrived.  ``check`` decides
whether some total order of the operations (a *linearization*) exists that

* respects real time: if A's answer arrived before B was invoked, A comes
  before B (an answer arriving at the very instant B is invoked does not
  order them: equal timestamps count as overlapping, which can only make the
  checker more lenient, never report a false violation); and
* is a legal sequential execution of the model, every completed operation
  returning exactly the result the client saw.

The model: a versioned register per key
---------------------------------------
``VersionedRegister`` models one key.  Its state is ``(version, value)``,
initially ``(0, None)`` (absent).  A version is the Raft log index of the
write that last changed the key: it strictly increases over time, but the
checker cannot predict it, so the model only compares versions.

* ``write(value)`` returning ``v``: legal iff ``v`` > current version;
  the state becomes ``(v, value)``.
* ``cas((expected, value))`` returning ``("ok", v)``: legal iff current
  version == ``expected`` and ``v`` > ``expected``; the state becomes
  ``(v, value)``.  Returning ``("conflict", None)``: legal iff current
  version != ``expected``; the state is unchanged.
* ``read()`` returning ``(v, x)``: legal iff the state is exactly
  ``(v, x)``; the state is unchanged.

Operations with an unknown outcome
----------------------------------
``completed is None`` means the client never learnt what happened (timeout,
leader lost, crash).  Such an operation may take effect at any point after
its invocation -- arbitrarily late, even after every other operation -- or
not at all.  The search therefore never *requires* it to be linearized, and
when it does linearize it the model must cope with not knowing its result:

* a read with unknown outcome constrains nothing (the search never bothers
  to place an operation with unknown outcome that leaves the state as is);
* a cas with unknown outcome that failed (conflict) has no visible effect,
  which is the same as leaving it out, so the model only has to describe
  the case where it took effect: legal iff the current version may equal
  ``expected``, after which the version is *some* integer > ``expected``;
* a write with unknown outcome that took effect installs its value with
  *some* version greater than the current one.

So a version in the state is either an ``int`` (known exactly) or an
``UnknownVersion(floor, excluded)`` meaning "some integer v with v > floor
and v not in excluded".  The rules, with ``min(u)`` the smallest integer
that ``u`` allows:

* an unknown write/cas taking effect on top of version ``u`` gives
  ``UnknownVersion(floor=min(u))`` (for write) or
  ``UnknownVersion(floor=expected)`` (for cas, after requiring that ``u``
  may equal ``expected``).  Only the smallest possible ``u`` matters
  afterwards: the next version exists iff it exceeds some allowed ``u``.
  Hence two unknown writes in a row on top of version 5 need a version >= 7.
* a read seeing ``(v, x)``: legal iff the value is ``x`` and ``u`` allows
  ``v``; the version then becomes exactly ``v`` (the read pins it).
* a completed write returning ``v``: legal iff ``v`` > ``min(u)``.
* a cas returning ``("ok", v)``: legal iff ``u`` allows ``expected`` and
  ``v`` > ``expected``.
* a cas returning ``("conflict", None)``: always legal on an unknown version
  (infinitely many integers differ from ``expected``), but from then on the
  version may no longer equal ``expected``, so ``expected`` joins
  ``excluded``.

This is exact: a history is accepted iff some choice of concrete versions
for the unknown outcomes makes it linearizable under the rules above.

The search
----------
Linearizability is local (compositional): a history is linearizable iff its
restriction to every key is, so ``check`` splits the history by key and
searches each key on its own (in sorted key order; the first violation is
reported).

For one key the search is the one of Wing & Gong, with Lowe's memoization.
The invocations ("calls") and answers ("returns") are put in a doubly-linked
list in time order.  Scanning from the head, the search tries to linearize
the operation of each call it meets: if the model accepts it, the call and
its return are unlinked from the list and the scan restarts at the head; a
stack remembers the choice.  Meeting a return means that operation finished
without having been linearized, so the last choice is undone (backtrack)
and the scan goes on after the undone call.  The search succeeds when no
return is left in the list (calls of operations with an unknown outcome
have no return and may stay).  Lowe's improvement caches every
configuration (set of linearized operations, model state) already entered:
reaching one again can only repeat work, so it is skipped.  The set is an
``int`` used as a bitset.

Each entered configuration counts as one explored state; ``max_states``
bounds the total over all keys, and going past it raises
``SearchLimitExceeded`` rather than letting a test hang.

The model is separate from the search: ``search`` accepts any object with
``initial()`` returning a hashable state and ``step(state, op)`` returning
the next hashable state, or ``None`` when ``op`` (with its recorded result)
is illegal in ``state``.  Optionally ``validate(op)`` (raise ``ValueError``
on malformed operations) and ``describe(state)`` (text for explanations).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Protocol

READ = "read"
WRITE = "write"
CAS = "cas"
CAS_OK = "ok"
CAS_CONFLICT = "conflict"

DEFAULT_MAX_STATES = 2_000_000


# ---------------------------------------------------------------------------
# History and results
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Operation:
    """One client operation on one key, as the client saw it.

    ``client``: which client issued it (a client has at most one operation
    outstanding).  ``kind``: ``"read"``, ``"write"`` or ``"cas"``.
    ``arg``: write: the new value; cas: ``(expected_version, new_value)``;
    read: ``None``.  ``result``: write: the new version (int); cas:
    ``("ok", version)`` or ``("conflict", None)``; read:
    ``(version, value)``, ``(0, None)`` for an absent key; ignored when
    ``completed`` is ``None``.  ``invoked``: monotonic time the request was
    sent.  ``completed``: monotonic time the answer arrived, or ``None``
    when the outcome is unknown (the operation may have taken effect at any
    time after ``invoked``, or never).  Values must be hashable.
    """

    client: int
    key: str
    kind: str
    arg: object
    result: object
    invoked: float
    completed: float | None

    @property
    def outcome_known(self) -> bool:
        """True when the client received an answer."""
        return self.completed is not None


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """Verdict of ``check``.

    ``ok``: the whole history is linearizable.  ``key``: when not ok, the
    key whose operations cannot be linearized (else ``None``).
    ``explanation``: one human-readable paragraph; when not ok it names the
    operation the search could not get past, the model state there and the
    operations that were still open at that point.
    ``states_explored``: configurations the search entered, over all keys.
    """

    ok: bool
    key: str | None
    explanation: str
    states_explored: int = 0

    def __bool__(self) -> bool:
        return self.ok


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """Verdict of ``search`` for the operations of one object.

    ``ok``: a linearization exists.  ``order``: when ok, one linearization
    as indices into the searched operations (operations with an unknown
    outcome that it leaves out are absent); empty when not ok.
    ``explanation``: human-readable, as in ``CheckResult``.
    ``states_explored``: configurations this search entered.
    """

    ok: bool
    order: tuple[int, ...]
    explanation: str
    states_explored: int


class SearchLimitExceeded(Exception):
    """The search entered more than ``max_states`` configurations."""

    def __init__(self, limit: int, key: str | None = None) -> None:
        where = f" while checking key {key!r}" if key is not None else ""
        super().__init__(
            f"linearizability search gave up after exploring {limit} states{where}; "
            "the history is too large or too concurrent for the budget (raise max_states "
            "or record a smaller history)"
        )
        self.limit = limit
        self.key = key


class Model(Protocol):
    """What the search needs from a sequential specification."""

    def initial(self) -> Hashable:
        """The state before any operation."""

    def step(self, state: Hashable, op: Operation) -> Hashable | None:
        """The state after ``op`` with its recorded result, or ``None`` if illegal."""


# ---------------------------------------------------------------------------
# The versioned-register model
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UnknownVersion:
    """Some integer version ``v`` with ``v > floor`` and ``v not in excluded``."""

    floor: int
    excluded: frozenset[int] = frozenset()

    def allows(self, version: int) -> bool:
        """Whether the unknown version may be exactly ``version``."""
        return version > self.floor and version not in self.excluded

    def smallest(self) -> int:
        """The smallest version allowed."""
        version = self.floor + 1
        while version in self.excluded:
            version += 1
        return version

    def __str__(self) -> str:
        text = f"unknown >{self.floor}"
        if self.excluded:
            text += ", not " + "/".join(str(v) for v in sorted(self.excluded))
        return text


Version = int | UnknownVersion


def _may_equal(current: Version, version: int) -> bool:
    if isinstance(current, UnknownVersion):
        return current.allows(version)
    return current == version


def _smallest(current: Version) -> int:
    return current.smallest() if isinstance(current, UnknownVersion) else current


def _exclude(current: Version, version: int) -> Version:
    """``current`` knowing that it is not ``version``."""
    if isinstance(current, UnknownVersion) and current.allows(version):
        return UnknownVersion(current.floor, current.excluded | {version})
    return current


def _is_version(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class VersionedRegister:
    """Sequential specification of one key of the store (see module docstring).

    State: ``(version, value)`` with ``version`` an ``int`` or an
    ``UnknownVersion``; initially ``(0, None)``.
    """

    def initial(self) -> tuple[Version, object]:
        """The absent key: version 0, value ``None``."""
        return (0, None)

    def step(self, state: tuple[Version, object], op: Operation) -> tuple[Version, object] | None:
        """The state after ``op`` (with its recorded result), or ``None`` if illegal."""
        if op.kind == READ:
            return self._read(state, op)
        if op.kind == WRITE:
            return self._write(state, op)
        if op.kind == CAS:
            return self._cas(state, op)
        raise ValueError(f"unknown operation kind {op.kind!r}")

    @staticmethod
    def _read(state, op):
        if not op.outcome_known:
            return state
        current, value = state
        seen_version, seen_value = op.result
        if seen_value == value and _may_equal(current, seen_version):
            return (seen_version, value)
        return None

    @staticmethod
    def _write(state, op):
        current, _ = state
        if not op.outcome_known:
            return (UnknownVersion(_smallest(current)), op.arg)
        if op.result > _smallest(current):
            return (op.result, op.arg)
        return None

    @staticmethod
    def _cas(state, op):
        current, value = state
        expected, new_value = op.arg
        if not op.outcome_known:
            # Only the "took effect" case: a failed cas is the same as leaving it out.
            if _may_equal(current, expected):
                return (UnknownVersion(expected), new_value)
            return None
        status, new_version = op.result
        if status == CAS_CONFLICT:
            if isinstance(current, UnknownVersion) or current != expected:
                return (_exclude(current, expected), value)
            return None
        if _may_equal(current, expected) and new_version > expected:
            return (new_version, new_value)
        return None

    def validate(self, op: Operation) -> None:
        """Raise ``ValueError`` unless ``op`` is well-formed for this model."""
        if op.kind == WRITE:
            _require_hashable(op.arg, op)
            if op.outcome_known and not _is_version(op.result):
                raise ValueError(f"write result must be an int version: {op}")
        elif op.kind == CAS:
            if not (isinstance(op.arg, tuple) and len(op.arg) == 2 and _is_version(op.arg[0])):
                raise ValueError(f"cas arg must be (expected_version, value): {op}")
            _require_hashable(op.arg[1], op)
            if op.outcome_known and op.result != (CAS_CONFLICT, None):
                ok = isinstance(op.result, tuple) and len(op.result) == 2 and op.result[0] == CAS_OK
                if not (ok and _is_version(op.result[1])):
                    raise ValueError(f"cas result must be ('ok', version) or ('conflict', None): {op}")
        elif op.kind == READ:
            if op.outcome_known:
                ok = isinstance(op.result, tuple) and len(op.result) == 2 and _is_version(op.result[0])
                if not ok:
                    raise ValueError(f"read result must be (version, value): {op}")
                _require_hashable(op.result[1], op)
        else:
            raise ValueError(f"unknown operation kind {op.kind!r}: {op}")

    @staticmethod
    def describe(state: tuple[Version, object]) -> str:
        """Human-readable state."""
        version, value = state
        return f"version {version}, value {value!r}"


def _require_hashable(value: object, op: Operation) -> None:
    try:
        hash(value)
    except TypeError:
        raise ValueError(f"values must be hashable: {op}") from None


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def check(
    history: Sequence[Operation],
    max_states: int = DEFAULT_MAX_STATES,
    model: Model | None = None,
) -> CheckResult:
    """Decide whether ``history`` is linearizable, key by key.

    ``model`` defaults to ``VersionedRegister()``; one fresh copy of its
    initial state is used per key.  Raises ``ValueError`` for malformed
    operations and ``SearchLimitExceeded`` when more than ``max_states``
    configurations (over all keys) would be needed.  Returns a
    ``CheckResult``; on a violation, ``key`` is the first key (in sorted
    order) that cannot be linearized.
    """
    model = model if model is not None else VersionedRegister()
    by_key = _split_by_key(history)
    explored = 0
    for key in sorted(by_key):
        try:
            outcome = search(by_key[key], model, max_states - explored)
        except SearchLimitExceeded:
            raise SearchLimitExceeded(max_states, key) from None
        explored += outcome.states_explored
        if not outcome.ok:
            return CheckResult(False, key, f"key {key!r}: {outcome.explanation}", explored)
    summary = f"linearizable: {len(history)} operations on {len(by_key)} keys"
    return CheckResult(True, None, summary, explored)


def _split_by_key(history: Sequence[Operation]) -> dict[str, list[Operation]]:
    by_key: dict[str, list[Operation]] = {}
    for op in history:
        by_key.setdefault(op.key, []).append(op)
    return by_key


# ---------------------------------------------------------------------------
# Wing & Gong search with Lowe's memoization, for one object
# ---------------------------------------------------------------------------


class _Entry:
    """A call or return in the doubly-linked event list."""

    __slots__ = ("index", "is_call", "partner", "prev", "next")

    def __init__(self, index: int, is_call: bool) -> None:
        self.index = index
        self.is_call = is_call
        self.partner: _Entry | None = None  # a call's return (None: unknown outcome)
        self.prev: _Entry | None = None
        self.next: _Entry | None = None


def _build_event_list(ops: Sequence[Operation]) -> _Entry:
    """The calls and returns in time order behind a sentinel head.

    At equal times calls come first, so touching operations overlap.
    """
    events = []
    calls = []
    for index, op in enumerate(ops):
        call = _Entry(index, True)
        calls.append(call)
        events.append((op.invoked, 0, index, call))
        if op.completed is not None:
            call.partner = _Entry(index, False)
            events.append((op.completed, 1, index, call.partner))
    events.sort(key=lambda event: event[:3])
    head = _Entry(-1, True)
    previous = head
    for *_, entry in events:
        previous.next = entry
        entry.prev = previous
        previous = entry
    return head


def _unlink(entry: _Entry) -> None:
    entry.prev.next = entry.next
    if entry.next is not None:
        entry.next.prev = entry.prev


def _relink(entry: _Entry) -> None:
    entry.prev.next = entry
    if entry.next is not None:
        entry.next.prev = entry


def _lift(call: _Entry) -> None:
    """Remove a call and its return from the list."""
    _unlink(call)
    if call.partner is not None:
        _unlink(call.partner)


def _unlift(call: _Entry) -> None:
    """Undo ``_lift`` (must be undone in reverse order of lifting)."""
    if call.partner is not None:
        _relink(call.partner)
    _relink(call)


def _validate_times(op: Operation) -> None:
    if op.completed is not None and op.completed < op.invoked:
        raise ValueError(f"operation completed before it was invoked: {op}")


@dataclasses.dataclass
class _Deepest:
    """Where the search got furthest before having to backtrack."""

    depth: int = -1
    blocked: int = -1
    state: Hashable = None
    open_ops: tuple[int, ...] = ()
    recent: tuple[int, ...] = ()


def search(ops: Sequence[Operation], model: Model, max_states: int = DEFAULT_MAX_STATES) -> SearchOutcome:
    """Search for a linearization of ``ops`` (all on one object) under ``model``.

    Operations with an unknown outcome may be placed anywhere after their
    invocation or left out.  Raises ``SearchLimitExceeded`` when more than
    ``max_states`` configurations would be entered, ``ValueError`` for
    malformed operations.
    """
    validate = getattr(model, "validate", None)
    for op in ops:
        _validate_times(op)
        if validate is not None:
            validate(op)

    head = _build_event_list(ops)
    state = model.initial()
    linearized = 0  # bitset of linearized operation indices
    unreturned = sum(op.outcome_known for op in ops)  # completed ops not yet linearized
    seen = {(linearized, state)}
    stack: list[tuple[_Entry, Hashable]] = []
    deepest = _Deepest()
    entry = head.next

    while unreturned:
        assert entry is not None, "scan ran past the last return"
        if entry.is_call:
            new_state = _try_step(model, state, ops[entry.index], entry)
            if new_state is not None:
                configuration = (linearized | (1 << entry.index), new_state)
                if configuration not in seen:
                    if len(seen) > max_states:  # ``seen`` also holds the start
                        raise SearchLimitExceeded(max_states)
                    seen.add(configuration)
                    stack.append((entry, state))
                    linearized, state = configuration
                    unreturned -= entry.partner is not None
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            _note_depth(deepest, head, entry, stack, state)
            if not stack:
                return SearchOutcome(False, (), _explain(ops, model, deepest), len(seen) - 1)
            entry, state = stack.pop()
            linearized &= ~(1 << entry.index)
            unreturned += entry.partner is not None
            _unlift(entry)
            entry = entry.next

    order = tuple(call.index for call, _ in stack)
    return SearchOutcome(True, order, f"linearizable: {len(ops)} operations", len(seen) - 1)


def _try_step(model: Model, state: Hashable, op: Operation, call: _Entry) -> Hashable | None:
    """The state after linearizing ``op`` here, or ``None`` if pointless or illegal.

    Placing an operation with an unknown outcome that leaves the state as it
    is equals leaving it out, so that is not tried.
    """
    new_state = model.step(state, op)
    if call.partner is None and new_state == state:
        return None
    return new_state


def _note_depth(deepest: _Deepest, head: _Entry, blocked: _Entry, stack: list, state: Hashable) -> None:
    """Remember the furthest point reached, for the explanation."""
    depth = len(stack)
    if depth <= deepest.depth:
        return
    open_ops = []
    entry = head.next
    while entry is not blocked:
        open_ops.append(entry.index)
        entry = entry.next
    deepest.depth = depth
    deepest.blocked = blocked.index
    deepest.state = state
    deepest.open_ops = tuple(open_ops)
    deepest.recent = tuple(call.index for call, _ in stack[-3:])


def describe_operation(op: Operation) -> str:
    """One line naming an operation, its result and its time span."""
    call = {READ: "read()", WRITE: f"write({op.arg!r})", CAS: f"cas{op.arg!r}"}.get(op.kind, op.kind)
    if op.outcome_known:
        return f"client {op.client} {call} -> {op.result!r} [{op.invoked:g}, {op.completed:g}]"
    return f"client {op.client} {call} -> unknown outcome [{op.invoked:g}, ...)"


def _explain(ops: Sequence[Operation], model: Model, deepest: _Deepest, limit: int = 6) -> str:
    describe_state = getattr(model, "describe", repr)
    completed = sum(op.outcome_known for op in ops)
    lines = [
        f"not linearizable. Furthest point: {deepest.depth} operations placed "
        f"({completed} completed in total), state {describe_state(deepest.state)}.",
        f"Could not place before its answer: {describe_operation(ops[deepest.blocked])}.",
    ]
    if deepest.recent:
        placed = "; ".join(describe_operation(ops[i]) for i in deepest.recent)
        lines.append(f"Last placed: {placed}.")
    others = [i for i in deepest.open_ops if i != deepest.blocked]
    if others:
        shown = "; ".join(describe_operation(ops[i]) for i in others[:limit])
        more = f" (and {len(others) - limit} more)" if len(others) > limit else ""
        lines.append(f"Also open then: {shown}{more}.")
    return " ".join(lines)
