"""The cluster's heartbeat period as the dispatcher reads it, and what swarm update may set."""

import pytest

from actors.common import heartbeat
from actors.controlapi.swarmspec import cluster_changes
from transport.rpc import RpcError


def cluster(period_ns=None, history=5):
    spec = {"Name": "default", "Orchestration": {"TaskHistoryRetentionLimit": history}}
    if period_ns is not None:
        spec["Dispatcher"] = {"HeartbeatPeriod": period_ns}
    return {"ID": "c", "Spec": spec}


def test_the_period_comes_from_the_cluster_and_defaults_to_250ms():
    assert heartbeat.period(cluster(5_000_000_000)) == 5.0
    assert heartbeat.period(cluster()) == 0.25
    assert heartbeat.period(None) == 0.25


def test_each_node_gets_up_to_a_fifth_more_and_the_grace_covers_the_longest():
    assert heartbeat.jittered(1.0, 0.0) == 1.0
    assert heartbeat.jittered(1.0, 0.999) == pytest.approx(1.1998)
    assert heartbeat.grace(0.25) == pytest.approx(1.5)
    assert heartbeat.grace(5.0) == pytest.approx(5 * heartbeat.jittered(5.0, 1.0))


@pytest.mark.parametrize("value", [0, 49_999_999, 300_000_000_001, -1, 1.5, True, "5s", None])
def test_a_period_out_of_bounds_or_not_whole_nanoseconds_is_refused_naming_the_bounds(value):
    assert "between 50ms and 300s" in heartbeat.refusal(value)


def test_swarm_update_patches_only_what_differs():
    assert cluster_changes(cluster(250_000_000), {"dispatcher_heartbeat": 5_000_000_000, "task_history_limit": 5}) == {
        "Spec.Dispatcher.HeartbeatPeriod": 5_000_000_000}
    assert cluster_changes(cluster(), {"dispatcher_heartbeat": None, "task_history_limit": 0}) == {
        "Spec.Orchestration.TaskHistoryRetentionLimit": 0}
    assert cluster_changes(cluster(), {}) == {}


@pytest.mark.parametrize("body, words", [
    ({"dispatcher_heartbeat": 10}, "between 50ms and 300s"),
    ({"task_history_limit": -1}, "between 0 and 1000"),
    ({"task_history_limit": "3"}, "between 0 and 1000"),
    ({"autolock": True}, "unknown swarm setting"),
])
def test_swarm_update_refuses_bad_values_with_a_clear_error(body, words):
    with pytest.raises(RpcError) as caught:
        cluster_changes(cluster(), body)
    assert caught.value.code == "invalid" and words in str(caught.value)
