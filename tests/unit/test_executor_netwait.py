"""A task's Create waits for its networks (actors/executor/netwait.py): pure, times passed in."""

from __future__ import annotations

from actors.executor import core
from actors.executor.netwait import FAILING_PATIENCE, NETWORK_PATIENCE, gate_creates, task_networks


def task(task_id, *networks):
    return {"ID": task_id, "NetworksAttachments": [{"Network": {"ID": n, "Spec": {"Name": "name-" + n}},
                                                    "Addresses": ["10.0.1.5/24"]} for n in networks]}


def has(*programmed):
    return lambda ids: set(ids) <= set(programmed)


def test_creates_of_tasks_on_no_network_or_on_programmed_ones_go_ahead():
    actions = [core.Create(task("t1")), core.Create(task("t2", "a")), core.Stop("t3", "c3")]
    kept, rejected, waiting = gate_creates(actions, has("a"), None, {}, 100.0, 1e9)
    assert kept == actions and rejected == [] and waiting == {}


def test_a_create_waits_for_every_network_of_its_task_and_goes_once_they_are_programmed():
    create = core.Create(task("t1", "a", "b"))
    kept, rejected, waiting = gate_creates([create], has("a"), None, {}, 100.0, 1e9)
    assert kept == [] and rejected == [] and waiting == {"t1": 100.0}
    kept, rejected, waiting = gate_creates([create], has("a"), None, waiting, 110.0, 1e9)
    assert kept == [] and waiting == {"t1": 100.0}  # the first moment held is kept
    kept, rejected, waiting = gate_creates([create], has("a", "b"), None, waiting, 111.0, 1e9)
    assert kept == [create] and rejected == [] and waiting == {}


def test_a_task_held_while_the_overlay_fails_is_rejected_naming_the_network_and_why():
    create = core.Create(task("t1", "a", "b"))
    failure = "overlay: network name-b: the engine refused"
    _, _, waiting = gate_creates([create], has("a"), failure, {}, 100.0, 1e9)
    kept, rejected, waiting = gate_creates([create], has("a"), failure, waiting, 100.0 + FAILING_PATIENCE - 0.1, 2e9)
    assert kept == rejected == [] and waiting == {"t1": 100.0}
    kept, rejected, waiting = gate_creates([create], has("a"), failure, waiting, 100.0 + FAILING_PATIENCE, 2e9)
    assert kept == [] and waiting == {}
    (report,) = rejected
    assert report.task_id == "t1" and report.status["State"] == "rejected"
    assert report.status["Err"] == ("network name-b could not be programmed on this node within "
                                    f"{FAILING_PATIENCE:g}s: overlay: network name-b: the engine refused")


def test_with_no_failure_a_task_waits_the_longer_patience():
    create = core.Create(task("t1", "a"))
    _, rejected, _ = gate_creates([create], has(), None, {"t1": 0.0}, NETWORK_PATIENCE - 0.1, 1e9)
    assert rejected == []


def test_a_network_never_told_of_says_so():
    create = core.Create(task("t1", "a"))
    _, rejected, _ = gate_creates([create], has(), None, {"t1": 0.0}, NETWORK_PATIENCE, 1e9)
    assert rejected[0].status["Err"].endswith(": the host was not told of it")


def test_the_networks_of_a_task_are_named_by_their_attachments():
    assert task_networks(task("t", "a", "b")) == {"a": "name-a", "b": "name-b"}
    assert task_networks({"ID": "t", "NetworksAttachments": [{"Network": {"ID": "x"}}]}) == {"x": "x"}
    assert task_networks({"ID": "t"}) == {}
