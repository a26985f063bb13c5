"""service logs cores: the executor's bounded reads (a fake engine), the control API's plan (whom to ask,
warnings, when following ends), the dispatcher's relay, and the CLI's follower (prefix, tail, since, cursors)."""

from __future__ import annotations

import asyncio

import pytest

from actors.common.logview import Follower, Options, parse_since, parse_tail, prefix
from actors.common.hostconfig import PORT_OFFSETS
from actors.common.loglines import format_timestamp, parse_timestamp
from actors.controlapi import logplan
from actors.controlapi.logs import answer_items
from actors.dispatcher.logrelay import LogRelay
from actors.executor import logs
from transport.rpc import RpcError

T0 = parse_timestamp("2026-11-30T07:00:00Z")


class FakeEngine:
    """A fake engine's read_logs over lists of (ns, text) per task and stream, as Docker filters them."""

    def __init__(self, output: dict):
        self.output = output  # task id -> stream -> [(ns, text)]

    def read_logs(self, task_id, stream, since, tail, sink):
        if task_id not in self.output:
            return False
        lines = [(ns, text) for ns, text in self.output[task_id].get(stream, []) if ns >= since * 1e9]
        for ns, text in lines[-tail:] if tail > 0 else [] if tail == 0 else lines:
            if not sink(f"{format_timestamp(ns)} {text}\n".encode()):
                break
        return True


def test_fake_engine_reads_follow_both_streams_with_tail_and_cursors():
    engine = FakeEngine({"t1": {"stdout": [(T0 + i, f"out {i}") for i in range(5)], "stderr": [(T0 + 10, "err")]}})
    [first] = logs.read_request(engine, {"tasks": [{"id": "t1"}], "tail": 2}, T0 + 100)
    assert [line[2] for line in first["lines"]] == ["out 4", "err"] and not first["more"]
    engine.output["t1"]["stdout"].append((T0 + 20, "new"))
    [second] = logs.read_request(engine, {"tasks": [{"id": "t1", "cursors": first["cursors"]}], "tail": 2}, T0 + 100)
    assert [line[2] for line in second["lines"]] == ["new"]
    assert logs.read_request(engine, {"tasks": [{"id": "gone"}]}, T0) == [{"id": "gone", "missing": True}]


def test_fake_engine_tail_zero_shows_only_what_comes_later():
    engine = FakeEngine({"t1": {"stdout": [(T0, "before")]}})
    [first] = logs.read_request(engine, {"tasks": [{"id": "t1"}], "tail": 0}, T0 + 5)
    assert first["lines"] == []
    engine.output["t1"]["stdout"].append((T0 + 9, "after"))
    [second] = logs.read_request(engine, {"tasks": [{"id": "t1", "cursors": first["cursors"]}], "tail": 0}, T0 + 9)
    assert [line[2] for line in second["lines"]] == ["after"]


def test_fake_engine_reads_are_bounded_per_answer_and_resume(monkeypatch):
    monkeypatch.setattr(logs.limits, "LOG_LINES_PER_REPLY", 3)
    engine = FakeEngine({"a": {"stdout": [(T0 + i, f"a{i}") for i in range(4)]}, "b": {"stdout": [(T0, "b0")]}})
    shown, cursors = [], {}
    for _ in range(6):
        answer = logs.read_request(engine, {"tasks": [{"id": t, "cursors": cursors.get(t, {})} for t in "ab"]}, T0)
        for entry in answer:
            shown += [line[2] for line in entry["lines"]]
            cursors[entry["id"]] = entry["cursors"]
        if not any(entry["more"] for entry in answer):
            break
    assert sorted(shown) == ["a0", "a1", "a2", "a3", "b0"]


def node(node_id, hostname, state="ready", dispatcher="m1", role="worker"):
    return {"ID": node_id, "Description": {"Hostname": hostname}, "Status": {"State": state}, "Spec": {"Role": role},
            "Shoal": {"Dispatcher": dispatcher, "PublicKey": f"key-{node_id}",
                      "Endpoints": {"addr": "127.0.0.1", "port": 7000}}}


def task(task_id, slot, node_id, state="running"):
    return {"ID": task_id, "ServiceID": "s1", "Slot": slot, "NodeID": node_id, "Status": {"State": state},
            "ServiceAnnotations": {"Name": "web"}}


SERVICES = {"s1": {"ID": "s1", "Spec": {"Name": "web"}}}
DISPATCHER = f"tcp://127.0.0.1:{7000 + PORT_OFFSETS['dispatcher']}"
NODES = {"m1": node("m1", "mgr", role="manager"), "w1": node("w1", "wrk"), "w2": node("w2", "gone", state="down")}


def test_plan_asks_each_nodes_dispatcher_and_warns_for_a_down_node():
    tasks = {"t1": task("t1", 1, "m1"), "t2": task("t2", 2, "w1"), "t3": task("t3", 3, "w2"),
             "t4": {**task("t4", 4, ""), "NodeID": ""}}
    plan = logplan.plan(SERVICES, tasks, NODES, "web")
    assert plan.target == "s1" and not plan.ended
    assert [(a.node_id, a.task_ids, a.endpoint, a.server_key) for a in plan.asks] == [
        ("m1", ("t1",), DISPATCHER, "key-m1"), ("w1", ("t2",), DISPATCHER, "key-m1")]
    assert plan.warnings == {"w2": "node gone is down: the output of its 1 task is not shown"}
    assert [t["name"] for t in plan.tasks] == ["web.1", "web.2", "web.3"]
    assert [t["pad"] for t in plan.tasks] == [0, 0, 0]  # a service of no replica count: padded to one digit
    # A follower that has all of a task's output does not have it asked for again.
    assert [a.task_ids for a in logplan.plan(SERVICES, tasks, NODES, "web", finished=frozenset({"t1"})).asks] == [("t2",)]


def test_plan_names_at_most_a_requests_worth_of_tasks_per_ask(monkeypatch):
    monkeypatch.setattr(logplan.limits, "LOG_TASKS_PER_REQUEST", 2)
    tasks = {f"t{n}": task(f"t{n}", n, "w1", state="complete") for n in range(5)}
    plan = logplan.plan(SERVICES, tasks, NODES, "web")
    assert [len(a.task_ids) for a in plan.asks] == [2, 2, 1] and plan.terminal == frozenset(tasks)


def test_plan_of_a_task_ends_when_it_has_ended_and_a_removed_target_ends_following():
    tasks = {"t1": task("t1", 1, "w1", state="failed")}
    assert logplan.plan(SERVICES, tasks, NODES, "t1").ended == "task t1 has ended"
    assert logplan.plan({}, {}, NODES, "s1", known=True).ended == "s1 was removed"
    with pytest.raises(RpcError) as raised:
        logplan.plan(SERVICES, {}, NODES, "nosuch")
    assert raised.value.code == "not_found"


def test_a_nodes_answer_counts_only_for_the_tasks_asked_of_it():
    ask = logplan.Ask("w1", "wrk", "tcp://x", "k", ("t2",))
    items = answer_items(ask, [{"id": "t2", "lines": [[T0, "stdout", "mine"]], "cursors": {"stdout": [T0, 1]}},
                               {"id": "t9", "lines": [[T0, "stdout", "not mine"]]},
                               {"id": "t2", "lines": [["bad"]]}])
    assert items[:2] == [{"line": ["t2", T0, "stdout", "mine"]},
                         {"cursor": {"id": "t2", "cursors": {"stdout": [T0, 1]}, "more": False, "final": False}}]
    final = answer_items(ask, [{"id": "t2", "lines": [], "cursors": {}}], terminal=frozenset({"t2"}))
    assert final == [{"cursor": {"id": "t2", "cursors": {}, "more": False, "final": True}}]
    assert items[2] == {"warning": "node wrk sent malformed logs for task t2", "about": "t2"}


def test_the_relay_hands_a_nodes_answer_only_to_the_request_sent_to_it():
    async def scenario():
        relay = LogRelay()
        pushed = []

        async def push(body):
            pushed.append(body)
            assert not relay.answer("other-node", body["request"], ["forged"])
            relay.answer("n1", body["request"], ["ok"])
        assert await relay.ask("n1", {"tasks": []}, push, timeout=1) == ["ok"]

        async def silent(body):
            pass
        with pytest.raises(RpcError) as raised:
            await relay.ask("n1", {"tasks": []}, silent, timeout=0.05)
        assert raised.value.code == "unavailable"
    asyncio.run(scenario())


def test_follower_prefixes_as_docker_and_sends_cursors_back():
    follower = Follower("web", 0, 10, Options())
    out = follower.take([{"target": "s1"}, {"task": {"id": "t2abcdefghijklmn", "name": "web.2", "node": "wrk", "pad": 1}},
                         {"task": {"id": "t1abcdefghijklmn", "name": "web.1", "node": "manager-1", "pad": 1}},
                         {"line": ["t2abcdefghijklmn", T0 + 1, "stderr", "second"]},
                         {"line": ["t1abcdefghijklmn", T0, "stdout", "first"]},
                         {"cursor": {"id": "t1abcdefghijklmn", "cursors": {"stdout": [T0, 1]}, "more": False}},
                         {"warning": "node x did not answer", "about": "x"}])
    assert out == [("warning", "warning: node x did not answer"),
                   ("stdout", "web.1.t1abcdefghij@manager-1     | first"),
                   ("stderr", "web.2.t2abcdefghij@wrk     | second")]
    assert follower.request() == {"ref": "s1", "known": True, "since": 0, "tail": 10,
                                  "cursors": {"t1abcdefghijklmn": {"stdout": [T0, 1]}}, "finished": []}
    follower.take([{"cursor": {"id": "t1abcdefghijklmn", "cursors": {"stdout": [T0, 1]}, "more": False, "final": True}}])
    assert follower.request()["finished"] == ["t1abcdefghijklmn"] and follower.request()["cursors"] == {}
    # One warning per node per run: the node's later state says nothing new to the reader.
    assert follower.take([{"warning": "node x is down", "about": "x"}, {"end": "s1 was removed"}]) == []
    assert follower.ended == "s1 was removed"


def test_follower_options_raw_timestamps_and_no_task_ids():
    described = {"id": "t1abcdefghijklmn", "name": "web.1", "node": "n", "service_id": "s1", "node_id": "n1"}
    assert prefix(described, Options(no_task_ids=True)) == "web.1@n"
    assert prefix(described, Options(no_resolve=True)) == "s1.1.t1abcdefghij@n1"
    assert prefix(described, Options(no_trunc=True)) == "web.1.t1abcdefghijklmn@n"
    raw = Follower("web", 0, -1, Options(raw=True, timestamps=True))
    assert raw.take([{"target": "s1", "tty": True}, {"task": described},
                     {"line": ["t1abcdefghijklmn", T0, "stdout", "x"]}]) == [("stdout", "2026-11-30T07:00:00.000000000Z x")]
    stamped = Follower("web", 0, -1, Options(timestamps=True))
    assert stamped.take([{"task": described}, {"line": ["t1abcdefghijklmn", T0, "stdout", "x"]}]) == [
        ("stdout", "2026-11-30T07:00:00.000000000Z web.1.t1abcdefghij@n    | x")]
    with pytest.raises(ValueError, match="tty service logs only supported with --raw"):
        Follower("web", 0, -1, Options()).take([{"target": "s1", "tty": True}])


def test_tail_and_since_values_as_docker_takes_them():
    assert parse_tail("5") == 5 and parse_tail("all") == -1 and parse_tail("-3") == -1
    assert parse_since("", T0) == 0
    assert parse_since("10s", T0) == T0 - 10_000_000_000
    assert parse_since("2026-11-30T07:00:00Z", 0) == T0
    assert parse_since("2026-11-30", 0) == parse_timestamp("2026-11-30T00:00:00Z")
    assert parse_since("1700000000.5", 0) == 1_700_000_000_500_000_000
    with pytest.raises(ValueError):
        parse_since("last tuesday", T0)
