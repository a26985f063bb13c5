"""Tests of the linearizability checker in tests/linearizability.py.

Hand-written histories pin down each rule (legal orderings pass, each kind
of anomaly is rejected, unknown outcomes are handled exactly); a simulator
of a truly linearizable store with overlapping, timing-out clients produces
random histories that must all pass, and must fail once a read is corrupted;
a brute-force search cross-checks the verdicts on small random histories.
"""

import collections
import dataclasses
import random

import pytest

from tests.linearizability import (
    CAS,
    READ,
    WRITE,
    Operation,
    SearchLimitExceeded,
    UnknownVersion,
    VersionedRegister,
    check,
    search,
)

# ---------------------------------------------------------------------------
# Builders: times are (invoked, completed); completed None = unknown outcome
# ---------------------------------------------------------------------------


def write(client, value, version, invoked, completed, key="k"):
    return Operation(client, key, WRITE, value, version, invoked, completed)


def read(client, version, value, invoked, completed, key="k"):
    return Operation(client, key, READ, None, (version, value), invoked, completed)


def cas(client, expected, value, result, invoked, completed, key="k"):
    return Operation(client, key, CAS, (expected, value), result, invoked, completed)


def assert_linearizable(history):
    result = check(history)
    assert result.ok, result.explanation
    assert result.key is None
    return result


def assert_violation(history, key="k"):
    result = check(history)
    assert not result.ok, "history was accepted but is not linearizable"
    assert result.key == key
    assert result.explanation
    return result


# ---------------------------------------------------------------------------
# Legal histories
# ---------------------------------------------------------------------------


def test_empty_history_is_linearizable():
    assert_linearizable([])


def test_read_of_absent_key_sees_version_zero_and_no_value():
    assert_linearizable([read(1, 0, None, 0, 1)])
    assert_violation([read(1, 1, None, 0, 1)])


def test_sequential_legal_history_is_linearizable():
    assert_linearizable([
        write(1, "a", 3, 0, 1),
        read(2, 3, "a", 2, 3),
        cas(1, 3, "b", ("ok", 7), 4, 5),
        cas(2, 3, "c", ("conflict", None), 6, 7),
        read(1, 7, "b", 8, 9),
        write(2, "d", 12, 10, 11),
        read(1, 12, "d", 12, 13),
    ])


def test_read_overlapping_a_write_may_see_old_or_new_value():
    before = [write(1, "a", 1, 0, 1)]
    assert_linearizable(before + [write(1, "b", 2, 2, 6), read(2, 1, "a", 3, 4)])
    assert_linearizable(before + [write(1, "b", 2, 2, 6), read(2, 2, "b", 3, 4)])


def test_overlapping_operations_are_ordered_by_their_results():
    # Recorded in an order that is not the linearization order.
    assert_linearizable([
        read(3, 5, "b", 0, 10),
        write(1, "a", 2, 1, 9),
        write(2, "b", 5, 2, 8),
        read(4, 2, "a", 3, 4),
    ])


def test_concurrent_cas_with_same_expected_version_one_wins():
    assert_linearizable([
        write(1, "a", 1, 0, 1),
        cas(1, 1, "x", ("ok", 4), 2, 5),
        cas(2, 1, "y", ("conflict", None), 2, 5),
        read(3, 4, "x", 6, 7),
    ])


def test_operations_touching_at_the_same_instant_count_as_overlapping():
    # The write's answer and the read's invocation carry the same timestamp.
    assert_linearizable([write(1, "a", 1, 0, 2), read(2, 0, None, 2, 3)])


# ---------------------------------------------------------------------------
# Known-bad histories
# ---------------------------------------------------------------------------


def test_stale_read_after_completed_write_is_rejected():
    assert_violation([
        write(1, "a", 1, 0, 1),
        write(1, "b", 2, 2, 3),
        read(2, 1, "a", 4, 5),
    ])


def test_lost_acknowledged_write_is_rejected():
    # Two completed writes, then a read that only sees the first: the second
    # (acknowledged) write was lost.
    assert_violation([
        write(1, "a", 1, 0, 1),
        write(2, "b", 2, 0.5, 1.5),
        read(3, 1, "a", 2, 3),
    ])


def test_two_successful_cas_with_same_expected_version_are_rejected():
    assert_violation([
        write(1, "a", 1, 0, 1),
        cas(1, 1, "x", ("ok", 4), 2, 5),
        cas(2, 1, "y", ("ok", 6), 2, 5),
    ])


def test_cas_conflict_when_expected_version_is_current_is_rejected():
    assert_violation([write(1, "a", 1, 0, 1), cas(2, 1, "x", ("conflict", None), 2, 3)])


def test_cas_success_with_version_not_above_expected_is_rejected():
    assert_violation([write(1, "a", 4, 0, 1), cas(2, 4, "x", ("ok", 4), 2, 3)])


def test_read_of_version_never_written_is_rejected():
    assert_violation([write(1, "a", 5, 0, 1), read(2, 7, "a", 2, 3)])


def test_read_of_value_never_written_is_rejected():
    assert_violation([write(1, "a", 5, 0, 1), read(2, 5, "z", 2, 3)])


def test_write_versions_going_backwards_in_real_time_are_rejected():
    assert_violation([write(1, "a", 5, 0, 1), write(2, "b", 3, 2, 3)])


def test_read_versions_going_backwards_in_real_time_are_rejected():
    assert_violation([
        write(1, "a", 3, 0, 10),
        write(2, "b", 5, 0, 10),
        read(3, 5, "b", 1, 2),
        read(3, 3, "a", 3, 4),
    ])


def test_read_before_write_was_invoked_cannot_see_it():
    assert_violation([read(1, 1, "a", 0, 1), write(2, "a", 1, 2, 3)])


# ---------------------------------------------------------------------------
# Unknown outcomes
# ---------------------------------------------------------------------------


def test_timed_out_write_that_later_becomes_visible_is_linearizable():
    assert_linearizable([
        write(1, "a", 1, 0, 1),
        write(1, "b", None, 2, None),
        read(2, 1, "a", 3, 4),
        read(2, 9, "b", 20, 21),
    ])


def test_timed_out_write_that_never_becomes_visible_is_linearizable():
    assert_linearizable([
        write(1, "a", 1, 0, 1),
        write(1, "b", None, 2, None),
        read(2, 1, "a", 3, 4),
        write(2, "c", 6, 5, 6),
        read(2, 6, "c", 7, 8),
    ])


def test_read_must_not_see_a_value_nobody_wrote():
    assert_violation([
        write(1, "a", 1, 0, 1),
        write(1, "b", None, 2, None),
        read(2, 9, "z", 3, 4),
    ])


def test_timed_out_write_cannot_take_effect_before_its_invocation():
    assert_violation([read(1, 4, "b", 0, 1), write(2, "b", None, 2, None)])


def test_timed_out_write_cannot_reappear_after_being_overwritten():
    # Once seen, and then overwritten by a later completed write, it stays gone.
    assert_violation([
        write(1, "b", None, 0, None),
        read(2, 3, "b", 1, 2),
        write(2, "c", 5, 3, 4),
        read(2, 3, "b", 5, 6),
    ])


def test_timed_out_write_needs_a_version_above_the_previous_one():
    base = [write(1, "a", 5, 0, 1), write(1, "b", None, 2, None)]
    assert_violation(base + [read(2, 5, "b", 3, 4)])
    assert_violation(base + [read(2, 4, "b", 3, 4)])
    assert_linearizable(base + [read(2, 6, "b", 3, 4)])


def test_completed_write_after_timed_out_write_needs_a_higher_version():
    # write "b" (unknown) then write "c" = 6 then read (6, "c"): "b" must be
    # left out or placed later, but a later read of "b" at 6 cannot follow "c".
    base = [write(1, "a", 5, 0, 1), write(1, "b", None, 2, None), read(2, 5, "a", 3, 4)]
    assert_linearizable(base + [write(2, "c", 6, 5, 6), read(2, 6, "c", 7, 8)])
    assert_violation(base + [write(2, "c", 6, 5, 6), read(2, 6, "b", 7, 8)])


def test_timed_out_cas_may_have_failed():
    assert_linearizable([
        write(1, "a", 1, 0, 1),
        cas(1, 1, "b", None, 2, None),
        read(2, 1, "a", 10, 11),
    ])


def test_timed_out_cas_may_have_succeeded_with_a_version_above_expected():
    base = [write(1, "a", 1, 0, 1), cas(1, 1, "b", None, 2, None)]
    assert_linearizable(base + [read(2, 3, "b", 10, 11)])
    assert_violation(base + [read(2, 1, "b", 10, 11)])


def test_timed_out_cas_cannot_succeed_with_a_stale_expected_version():
    assert_violation([
        write(1, "a", 1, 0, 1),
        write(1, "c", 2, 2, 3),
        cas(2, 1, "b", None, 4, None),
        read(2, 5, "b", 6, 7),
    ])


def test_cas_may_match_the_unknown_version_of_a_timed_out_write():
    assert_linearizable([
        write(1, "a", None, 0, None),
        cas(2, 4, "b", ("ok", 6), 1, 2),
        read(2, 6, "b", 3, 4),
    ])


def test_timed_out_read_constrains_nothing():
    assert_linearizable([
        write(1, "a", 1, 0, 1),
        Operation(2, "k", READ, None, (99, "garbage"), 0, None),
    ])


def test_two_timed_out_writes_in_a_row_need_two_fresh_versions():
    model = VersionedRegister()
    state = (5, "a")
    state = model.step(state, write(1, "b", None, 0, None))
    state = model.step(state, write(2, "c", None, 0, None))
    assert model.step(state, read(3, 6, "c", 1, 2)) is None
    assert model.step(state, read(3, 7, "c", 1, 2)) == (7, "c")
    assert model.step(state, write(3, "d", 7, 1, 2)) is None
    assert model.step(state, write(3, "d", 8, 1, 2)) == (8, "d")


def test_cas_conflict_on_an_unknown_version_excludes_its_expected_version():
    model = VersionedRegister()
    state = (UnknownVersion(5), "a")
    after = model.step(state, cas(1, 6, "x", ("conflict", None), 0, 1))
    assert after == (UnknownVersion(5, frozenset({6})), "a")
    assert model.step(after, read(2, 6, "a", 2, 3)) is None
    assert model.step(after, read(2, 7, "a", 2, 3)) == (7, "a")
    assert model.step(after, cas(2, 6, "y", ("ok", 9), 2, 3)) is None
    # The smallest version still possible is now 7, so a write needs 8.
    assert model.step(after, write(2, "y", 7, 2, 3)) is None
    assert model.step(after, write(2, "y", 8, 2, 3)) == (8, "y")


# ---------------------------------------------------------------------------
# Keys, explanations, limits, input checking, other models
# ---------------------------------------------------------------------------


def test_violation_on_one_key_is_reported_with_that_key():
    history = [
        write(1, "a", 1, 0, 1, key="good"),
        read(2, 1, "a", 2, 3, key="good"),
        write(1, "x", 2, 0, 1, key="bad"),
        write(1, "y", 3, 2, 3, key="bad"),
        read(2, 2, "x", 4, 5, key="bad"),
        read(3, 1, "a", 4, 5, key="zzz"),
    ]
    assert_violation(history, key="bad")


def test_keys_are_checked_independently():
    # Versions are log indices shared by all keys: another key's versions
    # may be lower later in real time.
    assert_linearizable([
        write(1, "a", 10, 0, 1, key="x"),
        write(2, "b", 3, 2, 3, key="y"),
        read(1, 10, "a", 4, 5, key="x"),
        read(2, 3, "b", 4, 5, key="y"),
    ])


def test_explanation_names_the_operation_that_could_not_be_placed():
    result = assert_violation([
        write(1, "a", 1, 0, 1),
        write(1, "b", 2, 2, 3),
        read(7, 1, "a", 4, 5),
    ])
    assert "client 7 read() -> (1, 'a')" in result.explanation
    assert "version 2, value 'b'" in result.explanation


def test_search_limit_raises_a_clear_error():
    history = simulate(3, clients=4, ops_per_client=20)[0]
    assert check(history).ok
    with pytest.raises(SearchLimitExceeded, match="gave up after exploring 5 states"):
        check(history, max_states=5)


def test_malformed_operations_are_rejected():
    with pytest.raises(ValueError, match="completed before it was invoked"):
        check([write(1, "a", 1, 2, 1)])
    with pytest.raises(ValueError, match="unknown operation kind"):
        check([Operation(1, "k", "delete", None, None, 0, 1)])
    with pytest.raises(ValueError, match="cas result"):
        check([cas(1, 0, "a", ("ok", "7"), 0, 1)])
    with pytest.raises(ValueError, match="hashable"):
        check([write(1, ["list"], 1, 0, 1)])


class Counter:
    """Another model: a counter with incr (returns the new count) and get."""

    def initial(self):
        return 0

    def step(self, state, op):
        if op.kind == "incr":
            return state + 1 if not op.outcome_known or op.result == state + 1 else None
        return state if op.result == state else None


def test_search_accepts_another_model():
    def op(client, kind, result, invoked, completed):
        return Operation(client, "c", kind, None, result, invoked, completed)

    legal = [op(1, "incr", 2, 0, 5), op(2, "incr", 1, 1, 4), op(3, "get", 2, 6, 7)]
    outcome = search(legal, Counter())
    assert outcome.ok and outcome.order == (1, 0, 2)
    lost_increment = [op(1, "incr", 1, 0, 1), op(2, "incr", 2, 2, 3), op(3, "get", 1, 4, 5)]
    assert not search(lost_increment, Counter()).ok
    assert check(legal, model=Counter()).ok


# ---------------------------------------------------------------------------
# A simulated linearizable store with overlapping, timing-out clients
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class _InFlight:
    client: int
    key: str
    kind: str
    arg: object
    invoked: float
    applied: bool = False
    result: object = None


def simulate(seed, clients=4, ops_per_client=10, keys=("k",), timeout_rate=0.05, patience=0.5):
    """A random history of a truly linearizable store, and some statistics.

    Each operation takes effect atomically at some instant between its
    invocation and its answer.  A client may give up waiting (outcome
    unknown): its operation then takes effect later or never.  ``patience``
    is the chance that a client picked by the scheduler does nothing, so
    lower values mean more overlap.
    """
    rng = random.Random(seed)
    store = {key: (0, None) for key in keys}
    log_index = 0
    clock = 0.0
    history = []
    stats = collections.Counter()
    in_flight = {}
    issued = dict.fromkeys(range(clients), 0)
    abandoned = []  # ops whose client gave up; they may still take effect

    def apply(op):
        nonlocal log_index
        version, value = store[op.key]
        if op.kind == READ:
            op.result = (version, value)
        elif op.kind == WRITE or op.arg[0] == version:
            log_index += rng.randint(1, 3)
            store[op.key] = (log_index, op.arg if op.kind == WRITE else op.arg[1])
            op.result = log_index if op.kind == WRITE else ("ok", log_index)
        else:
            op.result = ("conflict", None)
        op.applied = True

    def record(op, completed):
        result = op.result if completed is not None else None
        history.append(Operation(op.client, op.key, op.kind, op.arg, result, op.invoked, completed))

    def invoke(client):
        key = rng.choice(keys)
        kind = rng.choice((READ, READ, WRITE, CAS))
        value = rng.choice(("x", "y", f"c{client}.{issued[client]}"))
        arg = None
        if kind == WRITE:
            arg = value
        elif kind == CAS:
            current = store[key][0]
            arg = (current if rng.random() < 0.6 else max(0, current - rng.randint(1, 3)), value)
        issued[client] += 1
        in_flight[client] = _InFlight(client, key, kind, arg, clock)

    while in_flight or abandoned or any(n < ops_per_client for n in issued.values()):
        clock += rng.uniform(0.01, 1.0)
        if abandoned and rng.random() < 0.05:
            op = abandoned.pop(rng.randrange(len(abandoned)))
            if rng.random() < 0.5:
                apply(op)
                stats["late effects"] += 1
            continue
        client = rng.randrange(clients)
        op = in_flight.get(client)
        if op is None:
            if issued[client] < ops_per_client:
                invoke(client)
        elif rng.random() < patience:
            continue
        elif not op.applied and rng.random() < timeout_rate:
            record(op, None)  # gave up before it took effect
            abandoned.append(op)
            del in_flight[client]
            stats["timeouts"] += 1
        elif not op.applied:
            apply(op)
        else:
            lost_answer = rng.random() < timeout_rate
            record(op, None if lost_answer else clock)
            del in_flight[client]
            stats["timeouts" if lost_answer else "completed"] += 1
    return history, stats


RANDOM_SEEDS = range(300)


def test_random_linearizable_histories_pass():
    totals = collections.Counter()
    for seed in RANDOM_SEEDS:
        history, stats = simulate(seed, keys=("a", "b"))
        result = check(history)
        assert result.ok, f"seed {seed}: {result.explanation}"
        totals.update(stats)
    # The histories really exercise unknown outcomes, visible or not.
    assert totals["timeouts"] > 50 and totals["late effects"] > 10, totals


def test_random_histories_with_a_read_of_a_never_written_value_fail():
    for seed in RANDOM_SEEDS:
        history, _ = simulate(seed, keys=("a", "b"))
        rng = random.Random(seed)
        reads = [i for i, op in enumerate(history) if op.kind == READ and op.outcome_known]
        victim = rng.choice(reads)
        op = history[victim]
        history[victim] = dataclasses.replace(op, result=(op.result[0], "never written"))
        result = check(history)
        assert not result.ok, f"seed {seed}: corrupted read of op {victim} accepted"
        assert result.key == op.key


def happened_before(a, b):
    return a.completed is not None and a.completed < b.invoked


def test_witness_is_a_legal_sequential_order_respecting_real_time():
    model = VersionedRegister()
    for seed in range(100):
        history, _ = simulate(seed)
        outcome = search(history, model)
        assert outcome.ok, outcome.explanation
        placed = [history[i] for i in outcome.order]
        assert len(set(outcome.order)) == len(placed)
        assert {i for i, op in enumerate(history) if op.outcome_known} <= set(outcome.order)
        state = model.initial()
        for position, op in enumerate(placed):
            state = model.step(state, op)
            assert state is not None, f"seed {seed}: witness step {position} is illegal"
            assert not any(happened_before(later, op) for later in placed[position + 1:])


def brute_force_linearizable(ops, model):
    """Exhaustive search without memoization or event lists, for cross-checking."""

    def extend(state, remaining):
        if not any(op.outcome_known for op in remaining):
            return True
        for op in remaining:
            if any(happened_before(other, op) for other in remaining):
                continue
            following = model.step(state, op)
            rest = [other for other in remaining if other is not op]
            if following is not None and extend(following, rest):
                return True
        return False

    return extend(model.initial(), list(ops))


def corrupt(op, rng):
    """``op`` with a slightly wrong recorded result."""
    if op.kind == READ:
        version, value = op.result
        if rng.random() < 0.5:
            return dataclasses.replace(op, result=(max(0, version + rng.choice((-1, 1))), value))
        return dataclasses.replace(op, result=(version, rng.choice(("x", "y", None))))
    if op.kind == WRITE:
        return dataclasses.replace(op, result=max(1, op.result + rng.choice((-2, -1, 1))))
    if op.result[0] == "ok":
        return dataclasses.replace(op, result=("conflict", None))
    return dataclasses.replace(op, result=("ok", op.arg[0] + 1))


def test_verdicts_agree_with_brute_force_on_small_random_histories():
    model = VersionedRegister()
    verdicts = collections.Counter()
    for seed in range(400):
        rng = random.Random(seed)
        history, _ = simulate(seed, clients=3, ops_per_client=3, timeout_rate=0.15, patience=0.3)
        known = [i for i, op in enumerate(history) if op.outcome_known]
        if known and rng.random() < 0.6:
            victim = rng.choice(known)
            history[victim] = corrupt(history[victim], rng)
        expected = brute_force_linearizable(history, model)
        assert check(history).ok == expected, f"seed {seed}: brute force says {expected}"
        verdicts[expected] += 1
    assert verdicts[True] > 50 and verdicts[False] > 50, verdicts


def mean_concurrency(history):
    """Average number of completed operations open when an operation is invoked."""
    events = []
    for op in history:
        if op.outcome_known:
            events += [(op.invoked, 1), (op.completed, -1)]
    open_now = total = 0
    for _, change in sorted(events):
        if change == 1:
            total += open_now
        open_now += change
    return total / (len(events) // 2)


def test_large_heavily_overlapping_history_is_checked_quickly():
    history, stats = simulate(
        2024, clients=8, ops_per_client=300, keys=("a", "b", "c"), timeout_rate=0.01, patience=0.7
    )
    assert len(history) == 8 * 300
    assert mean_concurrency(history) > 4
    result = check(history, max_states=200_000)
    assert result.ok, result.explanation
    # A violation early on makes the search exhaust every alternative: still bounded.
    reads = [i for i, op in enumerate(history) if op.kind == READ and op.outcome_known]
    victim = reads[len(reads) // 4]
    op = history[victim]
    history[victim] = dataclasses.replace(op, result=(op.result[0], "never written"))
    result = check(history, max_states=200_000)
    assert not result.ok and result.key == op.key
