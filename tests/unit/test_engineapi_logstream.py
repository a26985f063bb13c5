"""dockerd's logs response (actors/engineapi/logstream.py): query parameters, the multiplexed framing, the
details the docker CLI parses, and the rounds' cursors; and the endpoints' rounds over a fake control API."""

import asyncio
import copy
import struct

import pytest

from actors.engineapi.endpoints import Endpoints
from actors.engineapi.logstream import LogQuery, LogRounds, details, frame, log_query
from actors.engineapi.translate import EngineError
from tests.unit.test_engineapi_endpoints import HOST, WEB, FakeControl, no_sleep
from transport.rpccall import RpcError

T1 = {"id": "t1", "name": "web.1", "node": "alpha", "service_id": "s1", "node_id": "n1", "pad": 0}
NS = 1_764_486_000_123_456_789  # 2025-11-30T07:00:00.123456789Z
STAMP = "2025-11-30T07:00:00.123456789Z"


def round_items(*lines, end="", more=False):
    """A control-API round for task t1 with ``lines`` (ns, stream, text) and t1's cursor after them."""
    items = [{"target": "s1", "tty": False}, {"task": T1}]
    items += [{"line": ["t1", ns, stream, text]} for ns, stream, text in lines]
    items.append({"cursor": {"id": "t1", "cursors": {"stdout": [lines[-1][0] if lines else 0, 1]}, "more": more,
                             "final": False}})
    return items + ([{"end": end}] if end else [])


def unframe(data: bytes) -> list[tuple[int, bytes]]:
    """The (stream, payload) frames of a multiplexed stream, as the docker CLI's stdcopy reads them."""
    frames = []
    while data:
        stream, zero1, zero2, zero3, length = struct.unpack(">BBBBI", data[:8])
        assert (zero1, zero2, zero3) == (0, 0, 0)
        frames.append((stream, data[8:8 + length]))
        data = data[8 + length:]
    return frames


def test_the_query_as_dockerd_reads_it():
    assert log_query({"stdout": "1", "stderr": "1"}, 0) == LogQuery(True, True)
    assert log_query({"stdout": "true", "follow": "1", "since": "1700000000.5", "tail": "10", "timestamps": "1",
                      "details": "1"}, 0) == LogQuery(True, False, True, 1_700_000_000_500_000_000, 10, True, True)
    assert log_query({"stderr": "1", "tail": "all", "since": ""}, 0) == LogQuery(False, True)


@pytest.mark.parametrize("query, message", [
    ({}, "Bad parameters: you must choose at least one stream"),
    ({"stdout": "0", "stderr": "false"}, "Bad parameters: you must choose at least one stream"),
    ({"stdout": "1", "tail": "-3"}, 'tail value must be a positive integer or "all"'),
    ({"stdout": "1", "since": "yesterday"}, "invalid since 'yesterday': Unix seconds are expected"),
])
def test_a_bad_query_is_refused_with_dockerds_reason(query, message):
    with pytest.raises(EngineError) as refused:
        log_query(query, 0)
    assert (refused.value.status, refused.value.message) == (400, message)


def test_a_frame_is_stream_three_zero_bytes_and_a_big_endian_length():
    assert frame("stdout", b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert frame("stderr", b"x" * 300)[:8] == b"\x02\x00\x00\x00\x00\x00\x01\x2c"
    assert frame("warning", b"")[:8] == b"\x03" + b"\x00" * 7


def test_details_are_sorted_and_query_escaped_as_dockerds():
    assert details(T1) == "com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1"
    assert details({"id": "a b,c=d", "node_id": "n", "service_id": "s"}).endswith("task.id=a+b%2Cc%3Dd")


def test_lines_with_details_and_timestamps_in_dockerds_order():
    rounds = LogRounds("web", LogQuery(True, True, timestamps=True, details=True))
    data = rounds.chunk(round_items((NS, "stdout", "hello"), (NS + 1, "stderr", "oops")))
    assert unframe(data) == [
        (1, f"{STAMP} {details(T1)} hello\n".encode()),
        (2, f"2025-11-30T07:00:00.123456790Z {details(T1)} oops\n".encode())]


def test_only_the_streams_asked_for_are_sent():
    rounds = LogRounds("web", LogQuery(False, True))
    assert unframe(rounds.chunk(round_items((NS, "stdout", "out"), (NS + 1, "stderr", "err")))) == [(2, b"err\n")]


def test_a_terminal_services_output_is_raw():
    rounds = LogRounds("web", LogQuery(True, True))
    items = round_items((NS, "stdout", "$ ls"))
    items[0]["tty"] = True
    assert rounds.chunk(items) == b"$ ls\n"
    assert rounds.error("gone") == b"Error grabbing logs: gone\n"


def test_a_nodes_warning_is_dockerds_error_stream_once():
    rounds = LogRounds("web", LogQuery(True, True))
    warning = {"warning": "node beta is down: the output of its 1 task is not shown", "about": "n2"}
    first = unframe(rounds.chunk([warning] + round_items((NS, "stdout", "a"))))
    assert first == [(1, b"a\n"), (3, b"Error grabbing logs: warning: node beta is down: the output of its 1 task "
                                      b"is not shown\n")]
    assert unframe(rounds.chunk(round_items() + [warning])) == []


def test_the_next_round_carries_the_cursors_and_the_resolved_target():
    rounds = LogRounds("web", LogQuery(True, True, follow=True, tail=5))
    assert rounds.request()["tail"] == 5 and rounds.request()["known"] is False
    rounds.chunk(round_items((NS, "stdout", "a")))
    assert rounds.request()["ref"] == "s1" and rounds.request()["cursors"] == {"t1": {"stdout": [NS, 1]}}
    assert rounds.again()
    rounds.chunk(round_items(end="s1 was removed"))
    assert not rounds.again()


def test_without_follow_rounds_go_on_only_while_an_answer_was_cut():
    rounds = LogRounds("web", LogQuery(True, True))
    rounds.chunk(round_items((NS, "stdout", "a"), more=True))
    assert rounds.again()
    rounds.chunk(round_items((NS + 1, "stdout", "b")))
    assert not rounds.again()


def collect(control, target):
    """The status and the whole body of a logs request over ``control``."""
    async def run():
        name, answer = await Endpoints(control, HOST, "127.0.0.1", no_sleep).respond("GET", target, b"")
        if answer.stream is None:
            return name, answer.status, answer.body
        return name, answer.status, answer.media_type, b"".join([chunk async for chunk in answer.stream])
    return asyncio.run(run())


def test_fake_control_a_followed_service_is_asked_round_after_round_until_it_is_removed():
    replies = iter([round_items((NS, "stdout", "a")), round_items(), round_items((NS + 1, "stdout", "b")),
                    round_items(end="s1 was removed")])
    asked = []
    control = FakeControl(service_inspect=WEB, service_logs=lambda body: asked.append(copy.deepcopy(body)) or next(replies))
    name, status, media_type, body = collect(control, "/v1.41/services/web/logs?stdout=1&follow=1")
    assert (name, status, media_type) == ("service_logs", 200, "application/vnd.docker.multiplexed-stream")
    assert unframe(body) == [(1, b"a\n"), (1, b"b\n")]
    kinds = [kind for kind, _ in control.calls]
    assert kinds == ["service_inspect"] + ["service_logs"] * 4
    assert asked[0]["ref"] == "s1"  # the service's id, not the name given
    assert asked[1]["cursors"] == {"t1": {"stdout": [NS, 1]}} and asked[1]["known"]


def test_fake_control_a_failed_round_ends_the_stream_with_dockerds_error():
    def logs(body):
        if body["known"]:
            raise RpcError("unavailable", "no leader")
        return round_items((NS, "stdout", "a"))
    name, status, _, body = collect(FakeControl(service_logs=logs), "/v1.41/tasks/t1/logs?stderr=1&stdout=1&follow=1")
    assert (name, status) == ("task_logs", 200)
    assert unframe(body) == [(1, b"a\n"), (3, b"Error grabbing logs: no leader\n")]


def test_fake_control_an_unknown_ref_or_a_bad_query_gets_its_status_before_any_output():
    def missing(body):
        raise RpcError("not_found", "no such task or service: x")
    assert collect(FakeControl(service_logs=missing), "/v1.41/tasks/x/logs?stdout=1") == (
        "task_logs", 404, {"message": "no such task or service: x"})
    control = FakeControl()
    assert collect(control, "/v1.41/tasks/x/logs") == (
        "task_logs", 400, {"message": "Bad parameters: you must choose at least one stream"})
    assert control.calls == []
