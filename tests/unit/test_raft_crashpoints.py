"""Crash points are off by default, and a wrong name is a clear error (the crashes themselves run in
tests/integration/test_raft_crash_points.py)."""

from __future__ import annotations

import pytest

from actors.raft.crashpoints import CrashPoints


def test_no_environment_means_no_crash_point():
    points = CrashPoints.from_env({})
    assert points.point is None
    for _ in range(3):
        points.reached("before_persist")  # returns: the process is still here


def test_the_environment_chooses_point_and_arrival():
    points = CrashPoints.from_env({"SHOAL_RAFT_CRASH_AT": "snapshot_saved", "SHOAL_RAFT_CRASH_AFTER": "3"})
    assert points.point == "snapshot_saved"
    points.reached("snapshot_saved")
    points.reached("snapshot_saved")
    points.reached("after_persist")  # other points do not count


def test_an_unknown_point_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="before_persist"):
        CrashPoints.from_env({"SHOAL_RAFT_CRASH_AT": "nowhere"})
