"""The cluster clock (actors/common/clock.py): entry times and view times that wall-clock jumps cannot move."""

from actors.common.clock import LeaderClock, ViewClock
from actors.orchestrator.restart import RestartPolicy
from transport import schema

T0 = 1_800_000_000.0


def test_a_new_leader_anchors_at_its_wall_clock_when_that_is_later():
    clock = LeaderClock()
    clock.applied(T0, monotonic=100.0)
    clock.lead(wall=T0 + 50, monotonic=101.0)
    assert clock.now(monotonic=101.0) == T0 + 50
    assert clock.now(monotonic=103.5) == T0 + 52.5


def test_a_leader_whose_wall_clock_is_behind_continues_from_the_last_entry():
    clock = LeaderClock()
    clock.applied(T0, monotonic=100.0)
    clock.lead(wall=T0 - 600, monotonic=102.0)  # its wall clock jumped back ten minutes
    assert clock.now(monotonic=102.0) == T0 + 2.0  # the last entry's time plus the time since it applied
    assert clock.now(monotonic=105.0) == T0 + 5.0


def test_a_wall_clock_jump_while_leading_changes_nothing():
    clock = LeaderClock()
    clock.lead(wall=T0, monotonic=10.0)
    stamped = [clock.now(monotonic=10.0 + step) for step in range(5)]
    assert stamped == [T0 + step for step in range(5)]  # only the monotonic clock moves it


def test_stamped_times_never_go_backwards_past_an_applied_entry():
    clock = LeaderClock()
    clock.lead(wall=T0, monotonic=10.0)
    clock.applied(T0 + 30, monotonic=11.0)  # an entry of an earlier leader with a later stamp
    assert clock.now(monotonic=11.0) == T0 + 30
    clock.applied(T0 + 1, monotonic=12.0)  # an older stamp does not pull it back
    assert clock.last_applied == T0 + 30


def test_a_follower_stamps_nothing_newer_than_the_last_applied_entry():
    clock = LeaderClock()
    clock.lead(wall=T0, monotonic=0.0)
    clock.follow()
    clock.applied(T0 + 7, monotonic=20.0)
    assert clock.now(monotonic=99.0) == T0 + 7


def test_a_view_uses_the_wall_clock_only_before_its_first_batch():
    clock = ViewClock()
    assert clock.now(monotonic=5.0, wall=T0 + 1234) == T0 + 1234
    clock.observed(T0, monotonic=5.0)
    assert clock.now(monotonic=7.5, wall=T0 - 9999) == T0 + 2.5  # the wall clock no longer matters


def test_the_restart_delay_counts_from_when_the_store_recorded_the_end():
    # The worker that reported the failure has its wall clock ten minutes behind.
    ended = {"Status": schema.task_status(schema.FAILED, "failed", T0 - 600),
             "UpdatedAt": schema.format_time(T0)}
    assert RestartPolicy(delay=5.0).restart_at(ended) == T0 + 5.0
