"""Control API update requests (actors/controlapi/updates.py): version checks, spec writes, rollback, restart, resume."""

import pytest

from actors.controlapi import updates
from transport import schema
from transport.rpc import RpcError

SPEC = {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "app:2"}}}
OLD = {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "app:1"}}}


def service(status=None, previous=OLD):
    svc = {"ID": "s1", "Version": {"Index": 40}, "Spec": SPEC, "SpecVersion": {"Index": 2}}
    if previous is not None:
        svc["PreviousSpec"], svc["PreviousSpecVersion"] = previous, {"Index": 1}
    if status is not None:
        svc["UpdateStatus"] = status
    return svc


def test_the_version_read_must_still_be_current():
    updates.check_version(service(), 40)
    with pytest.raises(RpcError, match="^update out of sequence$") as stale:
        updates.check_version(service(), 39)
    assert stale.value.code == "out_of_sequence"


@pytest.mark.parametrize("version", [None, "40", 40.0, True])
def test_a_version_that_is_not_a_whole_number_is_invalid(version):
    with pytest.raises(RpcError) as bad:
        updates.check_version(service(), version)
    assert bad.value.code == "invalid"


def test_a_new_spec_bumps_the_spec_version_and_clears_the_update_status():
    new = {**SPEC, "Labels": {"a": "b"}}
    changes = updates.update_changes(service(status={"State": "paused"}), new)
    assert changes == {"Spec": new, "PreviousSpec": SPEC, "SpecVersion": {"Index": 3},
                       "PreviousSpecVersion": {"Index": 2}, "UpdateStatus": None}


def test_a_stepped_update_says_so_in_its_status():
    assert updates.update_changes(service(), SPEC, step=True)["UpdateStatus"] == {"Shoal": {"Step": True}}


def test_restart_adds_one_to_force_update():
    svc = service()
    assert updates.restart_spec(svc)["TaskTemplate"]["ForceUpdate"] == 1
    svc["Spec"] = updates.restart_spec(svc)
    assert updates.restart_spec(svc)["TaskTemplate"]["ForceUpdate"] == 2
    assert "ForceUpdate" not in SPEC["TaskTemplate"], "the stored spec is not changed in place"


def test_a_rollback_swaps_the_specs_and_starts_a_rollback():
    changes = updates.rollback_request_changes(service(), 1000.0)
    assert changes["Spec"] == OLD and changes["PreviousSpec"] == SPEC and changes["SpecVersion"] == {"Index": 3}
    assert changes["UpdateStatus"] == {"State": "rollback_started", "StartedAt": schema.format_time(1000.0),
                                       "Message": "manually requested rollback"}


def test_a_rollback_without_a_previous_spec_is_refused_as_docker_says():
    with pytest.raises(RpcError, match="service web does not have a previous spec"):
        updates.rollback_request_changes(service(previous=None), 1000.0)


@pytest.mark.parametrize("paused, resumed", [("paused", "updating"), ("rollback_paused", "rollback_started")])
def test_resume_all_runs_to_completion_and_forgets_failures(paused, resumed):
    status = {"State": paused, "Message": "why", "StartedAt": "2024-01-31T12:00:00.000000000Z",
              "Shoal": {"Failed": ["t1"], "Step": True}}
    changes = updates.resume_changes(service(status=status), "all")["UpdateStatus"]
    assert changes["State"] == resumed and "Shoal" not in changes and changes["StartedAt"] == status["StartedAt"]


def test_resume_step_runs_the_next_batch_only():
    changes = updates.resume_changes(service(status={"State": "paused"}), "step")["UpdateStatus"]
    assert changes["State"] == "updating" and changes["Shoal"] == {"Step": True}


@pytest.mark.parametrize("status", [None, {"State": "updating"}, {"State": "completed"}, {"State": "rollback_started"}])
def test_only_a_paused_update_resumes(status):
    with pytest.raises(RpcError, match="has no paused update to resume"):
        updates.resume_changes(service(status=status), "all")


def test_resume_how_is_all_or_step():
    with pytest.raises(RpcError, match="use all or step"):
        updates.resume_changes(service(status={"State": "paused"}), "some")
