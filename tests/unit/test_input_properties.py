"""Property-based tests (hypothesis) of every door's input path: the codec, the envelope, the object
model, the store, the dispatcher's intake and the control API's handlers. Whatever arrives, truncated,
deep, huge-length, wrong-type or unknown, the answer is a value or the documented error, memory stays
bounded, and the store holds only valid objects."""

from __future__ import annotations

import asyncio
import tracemalloc
import types

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.controlapi.actor import ControlApi
from actors.dispatcher import decisions, intake
from actors.raft.store import Store
from transport import codec, envelope, keys, limits, model, schema
from transport.rpc import Request, RpcError, Stream

PROPERTY = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
T = 1_000_000.0

# Keys the handlers and the model look for, so generated maps reach past the first check.
FIELD_NAMES = ["ID", "Spec", "Name", "Mode", "Replicated", "Replicas", "Global", "TaskTemplate", "ContainerSpec",
               "Image", "Labels", "Env", "Args", "Status", "State", "Timestamp", "Message", "Err", "ContainerStatus",
               "ExitCode", "Description", "Hostname", "ref", "spec", "replicas", "labels", "availability", "role",
               "token", "addr", "port", "hostname", "public_key", "node_id", "force", "rotate", "updates"]
scalars = (st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 64 - 1) | st.floats(allow_nan=True)
           | st.text(max_size=20) | st.sampled_from(FIELD_NAMES + list(schema.TASK_STATES) + ["running", "busybox", "web"])
           | st.binary(max_size=10))
values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=5), children, max_size=5),
                      max_leaves=30)


def nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value]
    return value


# -- codec and envelope --------------------------------------------------------------------------

@PROPERTY
@given(st.binary(max_size=200))
def test_decode_of_any_bytes_is_a_value_or_a_codec_error(data):
    try:
        codec.decode(data)
    except codec.CodecError:
        pass


@PROPERTY
@given(values, st.data())
def test_truncated_messages_are_codec_errors(value, data):
    encoded = codec.encode(value)
    cut = data.draw(st.integers(0, len(encoded) - 1)) if len(encoded) > 1 else 0
    try:
        codec.decode(encoded[:cut])
    except codec.CodecError:
        return
    assert cut == 0 or encoded[:cut] != encoded  # a prefix that happens to be a whole message is fine


@PROPERTY
@given(values)
def test_encode_then_decode_gives_the_value_back(value):
    encoded = codec.encode(value)
    assert codec.encode(codec.decode(encoded)) == encoded  # bytes, not values: NaN never equals itself


@pytest.mark.parametrize("header", [b"\xdb\xff\xff\xff\xff", b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff",
                                    b"\xc6\xff\xff\xff\xff", b"\x81\xdd\xff\xff\xff\xff"])
def test_a_huge_announced_length_is_refused_without_allocating_it(header):
    tracemalloc.start()
    try:
        with pytest.raises(codec.CodecError):
            codec.decode(header + b"\x00" * 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("depth", [codec.MAX_DEPTH + 1, 1000, 100_000])
def test_deep_messages_are_refused(depth):
    data = b"\x91" * depth + b"\x90"
    with pytest.raises(codec.CodecError):
        codec.decode(data)


def test_an_oversized_message_is_refused_before_parsing():
    with pytest.raises(codec.CodecError, match="exceeds the limit"):
        codec.decode(b"\x00" * 100, max_bytes=99)


@PROPERTY
@given(st.binary(max_size=100) | values.map(lambda v: msgpack.packb(v, use_bin_type=True)))
def test_unpack_of_anything_is_an_envelope_or_malformed(frame):
    try:
        message = envelope.unpack(frame)
    except envelope.MalformedMessage:
        return
    assert isinstance(message.kind, str) and message.kind and isinstance(message.id, str)


# -- the model and the store ---------------------------------------------------------------------

@PROPERTY
@given(st.sampled_from(schema.TABLES), values)
def test_the_model_answers_any_value_with_none_or_invalid(table, value):
    try:
        model.check_object(table, value)
    except model.Invalid as exc:
        assert "\n" not in str(exc)


ops = st.fixed_dictionaries({"op": st.sampled_from(["create", "update", "patch", "delete", "lease"]) | scalars,
                             "table": st.sampled_from(schema.TABLES) | scalars,
                             "object": values | st.fixed_dictionaries({"ID": st.sampled_from(["a", "b"])}, optional={
                                 "Spec": values, "Status": values, "Description": values}),
                             "id": st.sampled_from(["a", "b"]) | scalars, "set": st.dictionaries(
                                 st.sampled_from(["Spec", "Status", "Status.State", "Spec.Mode", "Description"]), values,
                                 max_size=3),
                             "name": scalars, "holder": scalars, "ttl": scalars, "version": scalars})


@settings(PROPERTY, max_examples=40)
@given(st.lists(st.lists(ops, max_size=4) | values, max_size=5))
def test_any_batch_applies_or_is_rejected_and_the_store_stays_valid(batches):
    store = Store()
    for number, batch in enumerate(batches, start=1):
        result, changes = store.apply(batch if not isinstance(batch, list) else {"ops": batch}, number, T + number)
        assert ("error" in result and changes == []) or result["index"] == number
    for table in schema.TABLES:
        for obj in store.list(table):
            model.check_object(table, obj)


# -- the dispatcher's intake ---------------------------------------------------------------------

statuses = st.fixed_dictionaries({}, optional={
    "State": st.sampled_from(schema.TASK_STATES) | scalars, "Timestamp": st.just(schema.format_time(T)) | scalars,
    "Message": scalars, "Err": scalars, "ContainerStatus": values}) | values


@PROPERTY
@given(st.dictionaries(st.sampled_from(["t1", "t2"]) | scalars.filter(lambda k: k is not None), statuses, max_size=4)
       | values)
def test_status_reports_become_valid_patches_or_named_refusals(updates):
    store = Store()
    task = {"ID": "t1", "ServiceID": "s", "NodeID": "n1", "DesiredState": "running", "Status": {"State": "assigned"}}
    store.apply({"ops": [{"op": "create", "table": "tasks", "object": task}]}, 1, T)
    try:
        checked = intake.checked_reports(updates)
    except model.Invalid:
        return
    patches = decisions.status_ops(store.tables["tasks"], "n1", checked.valid)
    if patches:
        result, _ = store.apply({"ops": patches}, 2, T)
        assert "error" not in result, result


@PROPERTY
@given(st.fixed_dictionaries({}, optional={"description": values, "addr": scalars}) | values)
def test_session_bodies_are_checked_or_refused(body):
    try:
        description, addr = intake.checked_session(body if isinstance(body, dict) else {"description": body})
    except model.Invalid:
        return
    model.node_description(description, "Description")
    model.address(addr, "addr")


# -- the control API's handlers, over a real Store (the view and store client are fakes) ----------

class FakeViewOverStore:
    """Fake: the control API's view read straight from a real Store."""

    def __init__(self, store: Store):
        self.store = store

    @property
    def cluster(self):
        return next(iter(self.store.tables["cluster"].values()), None)

    @property
    def index(self) -> int:
        return self.store.index

    def table(self, name: str) -> dict:
        return self.store.tables[name]

    async def wait_changed(self, timeout: float) -> None:
        return None

    async def wait_index(self, index: int, timeout: float) -> bool:
        return self.store.index >= index


class FakeStoreClient:
    """Fake: proposals applied to the real Store at once, refusals raised as the client raises them."""

    def __init__(self, store: Store):
        self.store = store

    async def propose(self, ops, fence=None, timeout=5.0):
        result, _ = self.store.apply({"ops": ops, "fence": fence}, self.store.index + 1, T)
        if "error" in result:
            raise RpcError(result["error"]["code"], result["error"]["message"])
        return result

    async def barrier(self, timeout=5.0) -> int:
        return self.store.index

    async def status(self, timeout=5.0) -> dict:
        return {"leader": None}


def control_api_with_fakes() -> ControlApi:
    """A ControlApi whose view and store client are the fakes above, over a swarm-init'ed real Store."""
    store = Store()
    host = keys.generate()
    cluster = {"ID": "c", "Spec": {"Name": "default"}, "JoinTokens": {"Worker": "SWMTKN-1-" + "a" * 64 + "-" + "b" * 25},
               "Shoal": {"AdminKeys": []}}
    node = {"ID": "n1", "Spec": {"Role": "manager", "Availability": "active", "Labels": {}},
            "Description": {"Hostname": "h"}, "Status": {"State": "ready", "Addr": "127.0.0.1"},
            "Shoal": {"PublicKey": host.public_text, "Endpoints": {"addr": "127.0.0.1", "port": 2377}}}
    service = {"ID": "s1", "Spec": {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}},
                                    "Mode": {"Replicated": {"Replicas": 1}}}}
    network = {"ID": "w1", "Spec": {"Name": "front", "IPAMOptions": {"Configs": [{"Subnet": "10.1.0.0/24"}]}}}
    store.apply({"ops": [{"op": "create", "table": table, "object": obj}
                         for table, obj in (("cluster", cluster), ("nodes", node), ("services", service),
                                            ("networks", network))]}, 1, T)
    api = ControlApi.__new__(ControlApi)
    log = types.SimpleNamespace(info=lambda *a, **k: None, warning=lambda *a, **k: None)
    config = types.SimpleNamespace(node_id="n1", cluster_id="c", addr="127.0.0.1", port=2377)
    api._actor = types.SimpleNamespace(config=config, log=log, keypair=host)
    api._store = FakeStoreClient(store)
    api.view = FakeViewOverStore(store)
    return api


HANDLERS = ["ping", "info", "swarm_inspect", "swarm_update", "join_token", "join", "leave", "node_ls", "node_inspect", "node_ps", "node_update", "node_rm",
            "service_create", "service_ls", "service_inspect", "service_ps", "service_scale", "service_update",
            "service_rm", "network_create", "network_ls", "network_inspect", "network_rm", "network_prune"]
# What RpcServer answers for a handler's exception: RpcError with its code; these as "malformed".
MALFORMED = (KeyError, TypeError, ValueError, AttributeError)

bodies = st.fixed_dictionaries({}, optional={
    "ref": st.sampled_from(["web", "s1", "n1", "h", "front"]) | scalars, "node_id": st.sampled_from(["n1"]) | scalars,
    "spec": values | st.fixed_dictionaries({"Name": st.sampled_from(["web", "api"]) | scalars}, optional={
        "TaskTemplate": values, "Mode": values, "Labels": values, "EndpointSpec": values}),
    "replicas": st.integers(-5, 2 * limits.REPLICAS) | scalars, "labels": values, "availability": scalars,
    "role": st.sampled_from(["manager", "worker"]) | scalars, "token": scalars, "addr": scalars,
    "port": st.integers(0, 70000) | scalars, "hostname": scalars, "public_key": scalars, "force": scalars,
    "rotate": scalars, "dispatcher_heartbeat": st.integers(-1, 10**12) | scalars,
    "task_history_limit": st.integers(-2, 2000) | scalars, "refs": st.lists(st.sampled_from(["n1", "h", "nope"]) | scalars, max_size=3) | scalars}) | values


@PROPERTY
@given(st.sampled_from(HANDLERS), bodies)
def test_every_control_api_handler_answers_any_body_with_a_reply_or_a_documented_error(kind, body):
    api = control_api_with_fakes()
    request = Request(kind, body, "key", b"r", "1")
    try:
        reply = asyncio.run(getattr(api, kind)(request))
        if isinstance(reply, Stream):
            list(reply.items)
    except RpcError as exc:
        assert exc.code != "internal" and "\n" not in exc.message
    except MALFORMED:
        pass
    for table in schema.TABLES:
        for obj in api.view.store.list(table):
            model.check_object(table, obj)


def test_node_ps_streams_the_tasks_of_the_named_nodes_with_their_service_names():
    api = control_api_with_fakes()
    task = {"ID": "t1", "ServiceID": "s1", "Slot": 1, "NodeID": "n1", "DesiredState": "running",
            "Status": {"State": "running"}, "Spec": {"ContainerSpec": {"Image": "busybox"}}}
    api.view.store.apply({"ops": [{"op": "create", "table": "tasks", "object": task}]}, api.view.store.index + 1, T)
    reply = asyncio.run(api.node_ps(Request("node_ps", {"refs": ["h"]}, "key", b"r", "1")))
    items = list(reply.items)
    assert {"node": "n1", "hostname": "h"} in items and {"service": "s1", "name": "web"} in items
    assert [item["task"]["ID"] for item in items if "task" in item] == ["t1"]
    with pytest.raises(RpcError, match="no such node"):
        asyncio.run(api.node_ps(Request("node_ps", {"refs": ["nope"]}, "key", b"r", "1")))
