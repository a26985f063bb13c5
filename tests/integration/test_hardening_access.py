"""Issue 7, findings 3, 4 and 5 on a real one-manager, one-worker cluster: memory before
authentication, revocation and per-request authorisation, secrets on disk. Each ends with the
cluster converging a new service; one test walks every cell of the role x operation matrix
(docs/security.md) with real CURVE clients."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid

import pytest
import zmq
import zmq.asyncio

from actors.common.hostconfig import ACTOR_INDEX, MANAGER_SOCKETS, METRICS_BASE_OFFSET, PORT_OFFSETS
from actors.raft.values import Message
from tests.integration.cluster import Cluster, call_as, wait_until
from tests.integration.test_faults import actor_pid, converges
from transport import codec, keys, limits, sockets
from transport.rpc import RpcClient, RpcError, RpcTimeout

HANDSHAKE_REFUSED = "refused at the handshake"  # ZAP said no: the client never gets an answer
CURVE_GREETING = b"\xff" + b"\0" * 8 + b"\x7f" + bytes([3, 0]) + b"CURVE".ljust(20, b"\0") + b"\0" * 32
NOBODY = 65534


@pytest.fixture(scope="module")
def cluster(docker_engine):
    # Under a directory other users may traverse (not list), so that only the state's own modes
    # stand between a second local user and the secrets.
    root = pathlib.Path(tempfile.mkdtemp(prefix="shoal-access-"))
    root.chmod(0o711)
    cluster = Cluster(root)
    try:
        cluster.init_manager()
        cluster.join_worker("worker")
        yield cluster
    finally:
        cluster.teardown()
        shutil.rmtree(root, ignore_errors=True)


def inspect(manager, node_id: str) -> dict:
    return manager.json("node", "inspect", node_id)[0]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def endpoint(host, socket_name: str) -> str:
    return f"tcp://127.0.0.1:{host.port + PORT_OFFSETS[socket_name]}"


def server_key(host) -> bytes:
    return keys.load(host.state_dir / "keys", "host").public


def metric(host, actor: str, name: str) -> float:
    """Sum of the samples of metric ``name`` on ``actor``'s Prometheus endpoint."""
    port = host.port + METRICS_BASE_OFFSET + ACTOR_INDEX[actor]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid``, in kB."""
    fields = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


class Caller:
    """Real CURVE clients of one host's sockets, one connection per (socket, key), kept open."""

    def __init__(self, host):
        self.host = host
        self.context = zmq.asyncio.Context()
        self._clients: dict[tuple[str, bytes], RpcClient] = {}

    def client(self, socket_name: str, pair: keys.KeyPair) -> RpcClient:
        key = (socket_name, pair.public)
        if key not in self._clients:
            sock = sockets.client_socket(self.context, zmq.DEALER, endpoint(self.host, socket_name), pair,
                                         server_key(self.host))
            self._clients[key] = RpcClient(sock, socket_name)
        return self._clients[key]

    async def outcome(self, socket_name: str, pair: keys.KeyPair, kind: str, body, timeout: float = 2.0) -> str:
        """``ok``, the error code of the reply, or HANDSHAKE_REFUSED when no answer came at all."""
        try:
            await self.client(socket_name, pair).call(kind, body, timeout)
            return "ok"
        except RpcTimeout:
            return HANDSHAKE_REFUSED
        except RpcError as exc:
            return exc.code

    async def hears_changes(self, pair: keys.KeyPair, seconds: float = 3.0) -> bool:
        """Whether a SUB with ``pair`` receives anything from the change stream within ``seconds``
        (the dispatcher renews its presence lease twice a second, so a subscriber hears a batch soon)."""
        sub = sockets.client_socket(self.context, zmq.SUB, endpoint(self.host, "changes"), pair, server_key(self.host))
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        try:
            await asyncio.wait_for(sub.recv(), seconds)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            sub.close(linger=0)

    def close(self) -> None:
        self.context.destroy(linger=0)


def run(coro):
    return asyncio.run(coro)


# -- finding 3: memory before authentication ------------------------------------------------------

def flood_with_huge_frames(port: int, connections: int, bytes_each: int, seconds: float) -> int:
    """Open ``connections`` raw TCP connections to loopback ``port``, each sending a CURVE greeting and
    a HELLO announced at 300 MB, then junk, up to ``bytes_each`` bytes or ``seconds``; returns the bytes
    the kernel accepted in all (the server hangs up as soon as it reads the announced size)."""
    opened, sent = [], 0
    for _ in range(connections):
        raw = socket.create_connection(("127.0.0.1", port), timeout=2)
        raw.sendall(CURVE_GREETING + b"\x06" + struct.pack(">Q", 300_000_000) + b"\x05HELLO")
        opened.append([raw, 0])
    deadline, junk = time.monotonic() + seconds, b"\0" * 65536
    while opened and time.monotonic() < deadline:
        for entry in list(opened):
            try:
                entry[0].sendall(junk)
                entry[1] += len(junk)
                sent += len(junk)
                if entry[1] >= bytes_each:
                    raise OSError("enough")
            except OSError:
                entry[0].close()
                opened.remove(entry)
    for raw, _ in opened:
        raw.close()
    return sent


async def oversized_after_handshake(host, socket_name: str, pair: keys.KeyPair, size: int) -> str:
    """Send one message of ``size`` bytes over a CURVE connection that passed the handshake, then show the
    socket still serves a fresh client (the oversized one was cut off)."""
    caller = Caller(host)
    try:
        await caller.outcome(socket_name, pair, "ping", {})  # handshake done
        await caller.client(socket_name, pair).send("ping", b"\0" * size)
        return await caller.outcome(socket_name, keys.generate(), "ping", {}, timeout=5)
    finally:
        caller.close()


def test_finding3_unauthenticated_connections_cannot_grow_the_control_plane(cluster):
    manager = cluster.hosts[0]
    watched = {actor: actor_pid(manager, actor) for actor in ("raft", "controlapi", "dispatcher")}
    before = {actor: memory_kb(pid) for actor, pid in watched.items()}
    accepted = {name: flood_with_huge_frames(manager.port + offset, connections=8, bytes_each=32 * 1024 * 1024,
                                             seconds=10)
                for name, offset in PORT_OFFSETS.items() if name in MANAGER_SOCKETS}
    # After the handshake, the join socket (anyone may connect) refuses a 1 MiB message and keeps serving.
    assert run(oversized_after_handshake(manager, "join", keys.generate(), limits.MiB)) == "ok"
    time.sleep(1)
    after = {actor: memory_kb(pid) for actor, pid in watched.items()}
    report = {actor: (before[actor]["VmRSS"], after[actor]["VmRSS"], after[actor]["VmHWM"] - before[actor]["VmHWM"])
              for actor in watched}
    print("\nRSS kB before, after, peak growth:", report, "bytes accepted per port:", accepted)
    for actor, (rss_before, rss_after, peak_growth) in report.items():
        assert rss_after - rss_before < 4 * 1024 and peak_growth < 4 * 1024, (actor, report[actor])
    assert all(sent < 8 * 4 * limits.MiB for sent in accepted.values()), accepted
    converges(manager, unique("after-flood"), 2)


# -- finding 4: authorisation per request, revocation on open connections ---------------------------

def join_raw(host, caller: Caller, pair: keys.KeyPair, role: str) -> dict:
    """Join the swarm with ``pair`` and ``role``'s token, as a host would (through the join socket)."""
    token = host.shoal("swarm", "join-token", "-q", role).stdout.strip()
    body = {"token": token, "public_key": pair.public_text, "hostname": "raw", "addr": "127.0.0.1",
            "port": 1024 + uuid.uuid4().int % 20000}
    return run(caller.client("join", pair).call("join", body, 5))


def test_hosts_joining_at_the_same_moment_all_join(cluster):
    """Joins are serialised behind the cluster object's version; one that loses the race is decided again,
    not refused as a conflict (seen when a test's hosts joined at once)."""
    manager = cluster.hosts[0]
    caller = Caller(manager)
    token = manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
    pairs = [keys.generate() for _ in range(8)]

    async def join_all():
        return await asyncio.gather(*(caller.client("join", pair).call(
            "join", {"token": token, "public_key": pair.public_text, "hostname": "at-once", "addr": "127.0.0.1",
                     "port": 1024 + number}, 10) for number, pair in enumerate(pairs)))
    try:
        joined = {reply["node_id"] for reply in run(join_all())}
        assert len(joined) == len(pairs)
        assert joined <= set(manager.shoal("node", "ls", "-q").stdout.split())
        manager.shoal("node", "rm", "--force", *joined)
    finally:
        caller.close()


def test_finding4_revocation_bites_on_open_connections_and_keys_are_bound(cluster):
    manager = cluster.hosts[0]
    caller = Caller(manager)
    try:
        rogue = keys.generate()
        rogue_id = join_raw(manager, caller, rogue, "manager")["node_id"]
        # A key that joined with the manager token may use the control socket: the connection stays open.
        assert run(caller.outcome("control", rogue, "join_token", {"role": "manager"})) == "ok"
        manager.shoal("node", "demote", rogue_id)
        assert run(caller.outcome("control", rogue, "join_token", {"role": "manager"})) == "permission_denied"
        wait_until(lambda: not inspect(manager, rogue_id).get("ManagerStatus"), 20,
                   what="the demoted key out of Raft")
        manager.shoal("node", "rm", "--force", rogue_id)
        spec = {"Name": unique("rogue"), "TaskTemplate": {"ContainerSpec": {"Image": "shoal-test:latest"}},
                "Mode": {"Replicated": {"Replicas": 1}}}
        for kind, body in (("service_create", {"spec": spec}), ("join_token", {"role": "manager"})):
            assert run(caller.outcome("control", rogue, kind, body)) == "permission_denied", kind
        assert "permission denied" in run(_error_text(caller, "control", rogue, "join_token", {"role": "manager"}))

        # One key registers once.
        walker = keys.generate()
        walker_id = join_raw(manager, caller, walker, "worker")["node_id"]
        with pytest.raises(RpcError, match="already belongs to node"):
            join_raw(manager, caller, walker, "worker")
        # Heartbeats and sessions must name the key's own node.
        assert run(caller.outcome("dispatcher", walker, "heartbeat", {"node_id": manager.node_id, "session_id": "x"})) \
            == "unknown_node"
        session = {"node_id": walker_id, "description": {"Hostname": "raw"}, "addr": "127.0.0.1"}
        assert run(caller.outcome("dispatcher", walker, "session", session)) == "ok"
        wait_until(lambda: inspect(manager, walker_id)["Status"]["State"] == "ready", 10,
                   what="the raw worker ready")
        # A node that left cannot open a session again, nor come back as ready.
        assert run(caller.outcome("join", walker, "leave", {"node_id": walker_id})) == "ok"
        for kind, body in (("session", session), ("heartbeat", {"node_id": walker_id, "session_id": "x"})):
            assert run(caller.outcome("dispatcher", walker, kind, body)) == "permission_denied", kind
        time.sleep(0.5)
        left = inspect(manager, walker_id)
        assert left["Status"]["State"] == "down" and left["Shoal"]["Left"]
        assert metric(manager, "controlapi", "shoal_requests_denied_total") >= 3
        assert metric(manager, "dispatcher", "shoal_requests_denied_total") >= 2
    finally:
        caller.close()
    converges(manager, unique("after-revocation"), 2)


async def _error_text(caller: Caller, socket_name: str, pair: keys.KeyPair, kind: str, body) -> str:
    try:
        await caller.client(socket_name, pair).call(kind, body, 2)
    except RpcError as exc:
        return exc.message
    return ""


def test_finding4_raft_peer_messages_must_come_from_their_senders_key(cluster):
    """The manager's own key passes ZAP on the peer socket; a message it sends claiming to be from
    another node (a heartbeat of a far higher term, which would depose the leader) is dropped and counted."""
    manager = cluster.hosts[0]
    worker = cluster.hosts[1]
    own = keys.load(manager.state_dir / "keys", "host")

    async def spoof() -> None:
        context = zmq.asyncio.Context()
        try:
            sock = sockets.client_socket(context, zmq.DEALER, endpoint(manager, "raft_peer"), own, own.public)
            deposing = Message(type="heartbeat", to=manager.node_id, frm=worker.node_id, term=10_000)
            for _ in range(5):
                await sock.send(codec.encode(deposing.to_dict()))
                await asyncio.sleep(0.1)
        finally:
            context.destroy(linger=0)

    term = metric(manager, "raft", "shoal_raft_term")
    dropped = metric(manager, "raft", "shoal_raft_messages_wrong_sender_total")
    run(spoof())
    wait_until(lambda: metric(manager, "raft", "shoal_raft_messages_wrong_sender_total") >= dropped + 5, 5,
               what="the spoofed messages counted")
    assert metric(manager, "raft", "shoal_raft_term") == term and metric(manager, "raft", "shoal_raft_is_leader") == 1
    converges(manager, unique("after-spoof"), 1)


def test_a_node_spec_write_is_not_refused_for_status_writes_racing_it(cluster):
    """`node update` decides from the node as the manager sees it, while heartbeats and sessions write the
    same node's status: a user's label change must not fail with a version conflict it did not cause."""
    manager, worker = cluster.hosts[0], cluster.hosts[1]
    own = keys.load(manager.state_dir / "keys", "host")
    stop, written = threading.Event(), []

    def write_status() -> None:
        for n in range(300):  # bounded; stops early once the updates are through
            if stop.is_set():
                return
            reply = call_as(own, manager, "raft_api", "propose", {"ops": [
                {"op": "patch", "table": "nodes", "id": worker.node_id, "set": {"Status.Message": f"race {n}"}}]})
            written.append(not isinstance(reply, RpcError))

    writer = threading.Thread(target=write_status)
    writer.start()
    try:
        for n in range(15):
            manager.shoal("node", "update", "--label-add", f"race-test={n}", worker.node_id)
    finally:
        stop.set()
        writer.join()
    assert sum(written) >= 15, "the status writes did not race the updates"
    assert inspect(manager, worker.node_id)["Spec"]["Labels"]["race-test"] == "14"
    manager.shoal("node", "update", "--label-rm", "race-test", worker.node_id)


# The matrix of docs/security.md: socket, request kind and body -> outcome per key. "ok" or the error
# code of a reply means the request was authorised (the handler answered); permission_denied means it
# was refused on an open connection; HANDSHAKE_REFUSED means ZAP refused the key before any request.
def matrix(manager, worker) -> list[tuple[str, str, object, dict[str, str]]]:
    other_node = {"node_id": "no-such-node"}
    everyone = dict.fromkeys(("stranger", "worker", "manager", "admin"), "ok")
    return [
        ("join", "ping", {}, everyone),
        ("join", "join", {"token": "SHTKN-1-" + "0" * 64 + "-" + "a" * 25},
         dict.fromkeys(("stranger", "worker", "manager", "admin"), "bad_token")),
        ("join", "leave", other_node, {"stranger": "permission_denied", "worker": "not_found",
                                       "manager": "not_found", "admin": "permission_denied"}),
        ("join", "data_key", {}, {"stranger": "permission_denied", "worker": "permission_denied",
                                  "manager": "ok", "admin": "permission_denied"}),
        *[("control", kind, body, {"stranger": HANDSHAKE_REFUSED, "worker": HANDSHAKE_REFUSED,
                                   "manager": "ok", "admin": "ok"})
          for kind, body in (("ping", {}), ("info", {}), ("join_token", {"role": "worker"}), ("node_ls", {}),
                             ("service_ls", {}))],
        ("control", "node_rm", {"ref": "no-such-node"}, {"stranger": HANDSHAKE_REFUSED, "worker": HANDSHAKE_REFUSED,
                                                         "manager": "not_found", "admin": "not_found"}),
        *[("raft_api", kind, body, {"stranger": HANDSHAKE_REFUSED, "worker": HANDSHAKE_REFUSED,
                                    "manager": "ok", "admin": HANDSHAKE_REFUSED})
          for kind, body in (("status", {}), ("barrier", {}), ("get", {"table": "nodes", "id": manager.node_id}))],
        ("dispatcher", "heartbeat", {"node_id": "KEY_NODE", "session_id": "none"},
         {"stranger": HANDSHAKE_REFUSED, "worker": "unknown_session", "manager": "unknown_session",
          "admin": HANDSHAKE_REFUSED}),
        ("dispatcher", "heartbeat", {"node_id": "OTHER_NODE", "session_id": "none"},
         {"stranger": HANDSHAKE_REFUSED, "worker": "unknown_node", "manager": "unknown_node",
          "admin": HANDSHAKE_REFUSED}),
        ("dispatcher", "task_data", {"node_id": "KEY_NODE", "session_id": "none", "task_id": "x"},
         {"stranger": HANDSHAKE_REFUSED, "worker": "unknown_session", "manager": "unknown_session",
          "admin": HANDSHAKE_REFUSED}),
        # A manager's control API asks for a node's logs (this node has no session here); a node answers.
        ("dispatcher", "logs", {"node_id": "no-such-node", "tasks": []},
         {"stranger": HANDSHAKE_REFUSED, "worker": "permission_denied", "manager": "unavailable",
          "admin": HANDSHAKE_REFUSED}),
        ("dispatcher", "logs_reply", {"node_id": "KEY_NODE", "request": "none", "tasks": []},
         {"stranger": HANDSHAKE_REFUSED, "worker": "ok", "manager": "ok", "admin": HANDSHAKE_REFUSED}),
    ]


def test_finding4_every_cell_of_the_role_matrix(cluster):
    manager, worker = cluster.hosts
    pairs = {"stranger": keys.generate(), "worker": keys.load(worker.state_dir / "keys", "host"),
             "manager": keys.load(manager.state_dir / "keys", "host"),
             "admin": keys.load(manager.state_dir / "keys", "admin")}
    own_node = {"worker": worker.node_id, "manager": manager.node_id}
    other_node = {"worker": manager.node_id, "manager": worker.node_id}

    def concrete(body, who):
        if isinstance(body, dict) and body.get("node_id") in ("KEY_NODE", "OTHER_NODE"):
            nodes = own_node if body["node_id"] == "KEY_NODE" else other_node
            return {**body, "node_id": nodes.get(who, "no-such-node")}
        return body

    async def walk():
        caller = Caller(manager)
        try:
            cells = [(socket_name, kind, who, expected[who],
                      caller.outcome(socket_name, pairs[who], kind, concrete(body, who), timeout=3))
                     for socket_name, kind, body, expected in matrix(manager, worker) for who in pairs]
            outcomes = await asyncio.gather(*(cell[4] for cell in cells))
            heard = await asyncio.gather(*(caller.hears_changes(pairs[who]) for who in pairs))
        finally:
            caller.close()
        return [(s, k, w, e, o) for (s, k, w, e, _), o in zip(cells, outcomes)], dict(zip(pairs, heard))

    cells, heard = run(walk())
    wrong = [(s, k, w, f"expected {e}, got {o}") for s, k, w, e, o in cells if e != o]
    assert not wrong, wrong
    # The change stream serves the host's own actors only: the manager's own host key.
    assert heard == {"stranger": False, "worker": False, "manager": True, "admin": False}
    # The raft peer socket: the host's own key passes ZAP (its messages are then bound to its node, see
    # the spoofing test); any other key is refused at the handshake.
    assert run(_peer_handshake(manager, pairs)) == {"stranger": False, "worker": False, "manager": True,
                                                    "admin": False}


async def _peer_handshake(manager, pairs: dict[str, keys.KeyPair]) -> dict[str, bool]:
    """Whether each key completes a CURVE handshake with the raft peer socket (ZeroMQ's monitor says)."""
    context = zmq.asyncio.Context()
    try:
        async def handshake(pair) -> bool:
            sock = sockets.client_socket(context, zmq.DEALER, endpoint(manager, "raft_peer"), pair, server_key(manager))
            monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            try:
                await asyncio.wait_for(monitor.recv_multipart(), 3)
                return True
            except asyncio.TimeoutError:
                return False
        results = await asyncio.gather(*(handshake(pair) for pair in pairs.values()))
        return dict(zip(pairs, results))
    finally:
        context.destroy(linger=0)


# -- finding 5: secrets on disk ----------------------------------------------------------------------

def open_modes(root: pathlib.Path) -> list[str]:
    """Every path under ``root`` (itself included) that group or others may use."""
    found = []
    for directory, subdirs, files in os.walk(root):
        for path in [pathlib.Path(directory)] + [pathlib.Path(directory, n) for n in subdirs + files]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
                found.append(f"{path} {stat.filemode(mode)}")
    return found


def readable_by_nobody(path: pathlib.Path) -> bool:
    """Whether a second local user (nobody) can read ``path``."""
    probe = subprocess.run(["cat", str(path)], preexec_fn=lambda: os.setuid(NOBODY), capture_output=True)
    return probe.returncode == 0


def test_finding5_state_is_private_and_older_hosts_are_tightened(cluster):
    manager, worker = cluster.hosts
    for host in (manager, worker):
        assert open_modes(host.state_dir) == []
    raft_files = sorted(path for path in (manager.state_dir / "raft").rglob("*") if path.is_file())
    assert {p.name for p in raft_files} >= {"raft.db", "raft.db-wal"}
    secrets = raft_files + [manager.state_dir / "keys" / "admin.key", manager.state_dir / "host.json",
                            worker.state_dir / "keys" / "host.key"]
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(manager.state_dir.stat().st_mode) == 0o700
    if os.geteuid() == 0:  # root can play the second local user
        control = cluster.root / "probe"
        control.write_bytes(b"readable")
        control.chmod(0o644)
        assert readable_by_nobody(control), "the probe itself does not work"
        assert not any(readable_by_nobody(path) for path in secrets)
    # A host made by an older version (everything group/other readable) is tightened when it starts.
    worker.kill9()
    for path in [worker.state_dir, *worker.state_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    worker.start_daemon()
    wait_until(lambda: open_modes(worker.state_dir) == [], 10, what="the worker's state tightened")
    wait_until(lambda: inspect(manager, worker.node_id)["Status"]["State"] == "ready", 20,
               what="the restarted worker ready")
    converges(manager, unique("after-files"), 2)


# -- finding 4: a dispatcher whose view lags cannot undo a newer fact --------------------------------

@pytest.fixture
def two_managers(tmp_path, docker_engine):
    cluster = Cluster(tmp_path)
    try:
        cluster.init_manager()
        cluster.join("manager2", "manager")
        cluster.join_worker("worker")
        yield cluster
    finally:
        cluster.teardown()


def test_finding4_a_paused_dispatcher_cannot_mark_down_a_node_that_reconnected_elsewhere(two_managers):
    """The worker's dispatcher is paused (SIGSTOP) until the worker has moved to the other manager's
    dispatcher and its old session has expired; resumed, the paused dispatcher decides from its stale
    view that the node is its own and silent, but its down write carries the version it saw and fails."""
    m1, m2, worker = two_managers.hosts
    wait_until(lambda: inspect(m1, worker.node_id)["Status"]["State"] == "ready", 30, what="the worker ready")
    first = inspect(m1, worker.node_id)["Shoal"]["Dispatcher"]
    paused_host = next(host for host in (m1, m2) if host.node_id == first)
    paused = actor_pid(paused_host, "dispatcher")
    os.kill(paused, signal.SIGSTOP)
    try:
        wait_until(lambda: inspect(m1, worker.node_id)["Shoal"].get("Dispatcher") not in (first, None), 20,
                   what="the worker in session with the other dispatcher")
        time.sleep(2)  # well past the paused dispatcher's heartbeat grace for the worker's old session
    finally:
        os.kill(paused, signal.SIGCONT)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        node = inspect(m1, worker.node_id)
        assert node["Status"]["State"] == "ready", node["Status"]
        time.sleep(0.2)
    converges(m1, unique("after-pause"), 2)
