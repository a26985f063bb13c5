"""shoal events cores: transitions from view changes, the bounded event log and its follower's replies,
filters, and the CLI's lines."""

from __future__ import annotations

import pytest

from actors.cli.events import event_line, parse_filters
from actors.common.loglines import parse_timestamp
from actors.controlapi import events
from actors.controlapi.events import EventLog, checked_filters, transitions

T1 = "2026-11-30T07:00:01.000000000Z"
T2 = "2026-11-30T07:00:02.000000000Z"


def task(state, timestamp=T1, **extra):
    return {"ID": "t1", "ServiceID": "s1", "NodeID": "n1", "Slot": 1, "ServiceAnnotations": {"Name": "web"},
            "Status": {"State": state, "Timestamp": timestamp, "Message": state}, **extra}


def node(state, availability="active"):
    return {"ID": "n1", "Description": {"Hostname": "host-a"}, "Spec": {"Role": "worker", "Availability": availability},
            "Status": {"State": state, "Timestamp": T2}, "UpdatedAt": T2}


def test_a_task_state_change_is_one_event_with_the_status_time_and_the_state_before():
    [event] = transitions("tasks", task("starting"), task("running", T2))
    assert event == {"time": parse_timestamp(T2), "type": "task", "action": "running", "id": "t1",
                     "attributes": {"service": "web", "serviceID": "s1", "node": "n1", "slot": "1", "from": "starting",
                                    "message": "running"}}
    assert transitions("tasks", task("running"), task("running", desired="shutdown")) == []
    assert transitions("tasks", None, task("new"))[0]["action"] == "new"
    assert transitions("tasks", task("failed"), None)[0]["action"] == "remove"
    assert transitions("services", None, {"ID": "s1"}) == []


def test_node_state_and_availability_changes_are_events():
    assert [e["action"] for e in transitions("nodes", node("ready"), node("down"))] == ["down"]
    assert [e["action"] for e in transitions("nodes", node("ready"), node("ready", "drain"))] == ["drain"]
    assert transitions("nodes", node("ready"), node("ready")) == []


def test_the_log_answers_a_follower_after_its_last_event_and_from_a_time_on_a_new_log():
    log = EventLog(kept=3)
    first = log.reply("", None, 0, {})
    assert first["events"] == [] and first["next"] == 0
    for state, stamp in (("starting", T1), ("running", T2)):
        log.record("tasks", "t1", task("assigned"), task(state, stamp))
    after = log.reply(first["epoch"], first["next"], 0, {})
    assert [e["action"] for e in after["events"]] == ["starting", "running"] and after["next"] == 2
    assert log.reply(first["epoch"], 2, 0, {})["events"] == []
    # A follower of another (restarted) control API's log goes on from the time of its last event.
    assert [e["action"] for e in log.reply("old-epoch", 7, parse_timestamp(T2), {})["events"]] == ["running"]
    for _ in range(5):
        log.record("tasks", "t1", task("assigned"), task("failed"))
    assert len(log.reply(log.epoch, 0, 0, {})["events"]) == 3  # bounded: the oldest are gone


def test_replies_are_bounded(monkeypatch):
    monkeypatch.setattr(events, "EVENTS_PER_REPLY", 2)
    log = EventLog()
    for _ in range(3):
        log.record("tasks", "t1", task("assigned"), task("running"))
    reply = log.reply(log.epoch, 0, 0, {})
    assert len(reply["events"]) == 2 and reply["more"] and reply["next"] == 2
    assert len(log.reply(log.epoch, reply["next"], 0, {})["events"]) == 1


def test_filters_by_service_node_and_type():
    log = EventLog()
    log.record("tasks", "t1", task("assigned"), task("running"))
    log.record("nodes", "n1", node("ready"), node("down"))
    def actions(**filters):
        return [e["type"] for e in log.reply(log.epoch, 0, 0, checked_filters(filters))["events"]]
    assert actions(service=["web"]) == ["task"] and actions(service=["s1"]) == ["task"]
    assert actions(node=["host-a"]) == ["node"] and actions(node=["n1"]) == ["task", "node"]
    assert actions(type=["node"]) == ["node"] and actions(service=["other"]) == []
    with pytest.raises(ValueError):
        checked_filters({"label": ["x"]})


def test_cli_filters_and_lines_as_docker_events():
    assert parse_filters(["service=web", "service=db", "type=task"]) == {"service": ["web", "db"], "type": ["task"]}
    with pytest.raises(ValueError, match="invalid filter 'label=x'"):
        parse_filters(["label=x"])
    [event] = transitions("tasks", task("starting"), task("running", T2))
    assert event_line(event) == ("2026-11-30T07:00:02.000000000Z task running t1 "
                                 "(from=starting, message=running, node=n1, service=web, serviceID=s1, slot=1)")
