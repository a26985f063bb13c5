#!/usr/bin/env python3
"""Hammer every port of a live manager with malformed input, then report what the cluster did.

From three keys (a stranger's fresh key, a worker's host key, the manager's own host key, which the
control API also admits as admin) it sends to each of the manager's sockets (join, control,
raft_api, changes, dispatcher, raft_peer) a random mix of: known kinds with random bodies, unknown
kinds, random bytes, truncated and deeply nested envelopes, announced-huge lengths, messages just
over the socket's limit and multi-frame messages; and it opens raw TCP connections that send
garbage (a fake greeting announcing a huge frame among it). Meanwhile it samples each actor's RSS
from /proc. Then it checks that a new service still converges and writes a Markdown report
(messages sent, replies and error replies by code, actor restarts from the supervisor's log, peak
RSS per actor) to docs/fuzz.md and prints it.

    python3 benchmarks/fuzz_ports.py [--seconds 30] [--max-messages 100000] [--seed 1]
    python3 benchmarks/fuzz_ports.py --state-dir MANAGER_DIR [--worker-state-dir WORKER_DIR]

Without --state-dir it starts its own one-manager, one-worker cluster on loopback and removes it
afterwards. Only loopback targets are accepted; the run is bounded in time and in message count.
It exits non-zero when an actor restarted or the new service did not converge.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime
import ipaddress
import os
import pathlib
import random
import sys
import tempfile
import time

import zmq
import zmq.asyncio

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.common.hostconfig import MANAGER_SOCKETS, PORT_OFFSETS, HostConfig  # noqa: E402
from tests.integration.cluster import IMAGE, Cluster, Host, wait_until  # noqa: E402
from transport import codec, envelope, keys, limits, sockets  # noqa: E402

RESULTS = REPO / "docs" / "fuzz.md"

# Request kinds each socket serves, less those whose whole point is to change who is in the
# cluster (leave, node_rm, node_update: a node's own key may make it leave, an admin may promote,
# demote or remove nodes, by design) and the raft API's fault-injection hook (an operator's test
# tool): random bodies naming real node ids would otherwise take the fuzzer's own worker out.
KINDS = {"join": ["join", "ping"],
         "control": ["ping", "info", "join_token", "node_ls", "node_inspect", "service_create", "service_scale", "service_update", "service_rm", "service_ls",
                     "service_inspect", "service_ps"],
         "raft_api": ["propose", "snapshot", "get", "list", "status", "barrier"],
         "changes": [],
         "dispatcher": ["session", "heartbeat", "status"],
         "raft_peer": []}
INBOUND_LIMITS = {"join": limits.JOIN_MESSAGE_BYTES, "control": limits.CONTROL_MESSAGE_BYTES,
                  "raft_api": limits.RAFT_API_MESSAGE_BYTES, "changes": limits.CHANGES_INBOUND_BYTES,
                  "dispatcher": limits.DISPATCHER_MESSAGE_BYTES, "raft_peer": limits.RAFT_PEER_FRAME_BYTES}
FIELDS = ["ID", "Spec", "Name", "Mode", "Replicated", "Replicas", "TaskTemplate", "ContainerSpec", "Image", "Labels",
          "Status", "State", "Timestamp", "Message", "Description", "Hostname", "ref", "spec", "replicas", "labels",
          "role", "token", "addr", "port", "hostname", "public_key", "node_id", "session_id", "updates", "ops",
          "op", "table", "object", "id", "set", "type", "term", "frm", "to", "entries"]
OVERSIZED_SHARE = 0.002   # messages just over a socket's limit (each costs the sender its connection)
DRAIN_SECONDS = 2.0       # how long to keep reading replies after the last send
RSS_SAMPLE_SECONDS = 0.25


@dataclasses.dataclass
class Tally:
    """What one (key, socket) pair sent and got back."""

    sent: int = 0
    replies: int = 0
    errors: collections.Counter = dataclasses.field(default_factory=collections.Counter)


class Budget:
    """One sender's bounds: the run's deadline and its share of the run's messages."""

    def __init__(self, deadline: float, messages: int):
        self.deadline = deadline
        self.left = messages

    def take(self) -> bool:
        """Spend one message; False once the time or the count is used up."""
        if self.left <= 0 or time.monotonic() >= self.deadline:
            return False
        self.left -= 1
        return True


# -- what to send --------------------------------------------------------------------------------

def random_value(rng: random.Random, ids: list[str], depth: int = 0):
    """A random msgpack-able value, often shaped like Shoal's (known field names, ids, states)."""
    pick = rng.random()
    if depth < 4 and pick < 0.3:
        return {rng.choice(FIELDS): random_value(rng, ids, depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 4 and pick < 0.4:
        return [random_value(rng, ids, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice([None, True, rng.randint(-2 ** 63, 2 ** 64 - 1), rng.randint(-5, 100_000_000), rng.random() * 1e20,
                       float("nan"), rng.choice(ids), rng.choice(["running", "failed", "pwned", "manager", "worker"]),
                       "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 30))),
                       rng.randbytes(rng.randint(0, 30)), "x" * rng.choice([1, 300, 5000])])


def message(rng: random.Random, socket_name: str, ids: list[str]) -> tuple[str, list[bytes]]:
    """(what it is, frames) of one malformed or random message for ``socket_name``."""
    kinds = KINDS[socket_name] or ["x"]
    body = random_value(rng, ids)
    if isinstance(body, dict) and rng.random() < 0.5:
        body["node_id"] = rng.choice(ids)
    valid = envelope.pack(rng.choice(kinds), body)
    if rng.random() < OVERSIZED_SHARE:
        return "oversized", [b"\x00" * (INBOUND_LIMITS[socket_name] + 1)]
    shape = rng.choice(["known kind", "known kind", "known kind", "unknown kind", "random bytes", "truncated",
                        "deep", "huge length", "multi-frame", "not a map"])
    frames = {
        "known kind": lambda: [valid],
        "unknown kind": lambda: [envelope.pack("k" + rng.randbytes(4).hex(), body)],
        "random bytes": lambda: [rng.randbytes(rng.randint(0, 200))],
        "truncated": lambda: [valid[:rng.randint(0, max(0, len(valid) - 1))]],
        "deep": lambda: [b"\x91" * rng.choice([codec.MAX_DEPTH + 1, 5000, 200_000]) + b"\x90"],
        "huge length": lambda: [rng.choice([b"\xdb", b"\xc6", b"\xdd", b"\xdf"]) + b"\xff\xff\xff\xf0" + rng.randbytes(8)],
        "multi-frame": lambda: [valid, valid, rng.randbytes(10)],
        "not a map": lambda: [codec.encode([1, 2, body])],
    }[shape]()
    return shape, frames


# -- senders -------------------------------------------------------------------------------------

async def hammer(context: zmq.asyncio.Context, keypair: keys.KeyPair, endpoint: str, server_key: bytes,
                 socket_name: str, ids: list[str], budget: Budget, rng: random.Random, tally: Tally) -> None:
    """Send malformed messages to one socket with one key until the budget is spent, counting replies."""
    kind = zmq.XSUB if socket_name == "changes" else zmq.DEALER  # a PUB only takes subscriptions
    sock = sockets.client_socket(context, kind, endpoint, keypair, server_key)
    sock.setsockopt(zmq.SNDHWM, 100)
    try:
        while budget.take():
            _, frames = message(rng, socket_name, ids)
            try:
                await sock.send_multipart(frames, flags=zmq.NOBLOCK)
                tally.sent += 1
            except zmq.Again:  # not connected (refused by ZAP, or cut off for an oversized frame): wait
                await asyncio.sleep(0.02)
            await _read_replies(sock, tally, 0)
            await asyncio.sleep(0)  # every sender gets its turn
        await _read_replies(sock, tally, DRAIN_SECONDS)
    finally:
        sock.close(linger=0)


async def _read_replies(sock, tally: Tally, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if not await sock.poll(max(0, int((deadline - time.monotonic()) * 1000)), zmq.POLLIN):
            return
        frames = await sock.recv_multipart()
        try:
            reply = envelope.unpack(frames[-1])
        except envelope.MalformedMessage:
            tally.errors["unreadable reply"] += 1
            continue
        if reply.is_error:
            tally.errors[str((reply.body or {}).get("code", "?"))] += 1
        else:
            tally.replies += 1


async def garbage_tcp(addr: str, ports: list[int], budget: Budget, rng: random.Random, counts: collections.Counter) -> None:
    """Raw TCP connections that send garbage, a ZMTP greeting announcing a huge frame among it."""
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"CURVE".ljust(20, b"\x00") + b"\x00" * 32
    while budget.take():
        port = rng.choice(ports)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), 1.0)
        except (OSError, asyncio.TimeoutError):
            counts["refused"] += 1
            continue
        payload = rng.choice([rng.randbytes(rng.randint(1, 4096)), greeting + b"\x06" + b"\xff" * 8 + rng.randbytes(64),
                              greeting + rng.randbytes(256)])
        try:
            writer.write(payload)
            await asyncio.wait_for(writer.drain(), 1.0)
            counts["connections"] += 1
            counts["bytes"] += len(payload)
        except (OSError, asyncio.TimeoutError):
            counts["reset"] += 1
        finally:
            writer.close()
        await asyncio.sleep(0.005)


# -- watching the manager --------------------------------------------------------------------------

def actor_pids(state_dir: pathlib.Path) -> dict[str, int]:
    """Actor name -> pid of the host's actor processes (``shoal-actor NAME --state-dir DIR``)."""
    found = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = [part.decode(errors="replace") for part in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        for position, arg in enumerate(args[:-3]):
            if arg.endswith("shoal-actor") and args[position + 2] == "--state-dir" and args[position + 3] == str(state_dir):
                found[args[position + 1]] = int(entry.name)
    return found


def rss_bytes(pid: int, field: str) -> int:
    """``VmRSS`` or ``VmHWM`` (peak) of ``pid`` in bytes, 0 when the process is gone."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def watch_actors(state_dir: pathlib.Path, until: asyncio.Event, peaks: dict, pids_seen: dict) -> None:
    """Sample every actor's RSS (and peak RSS) until ``until`` is set; record every pid each actor had."""
    while True:
        for name, pid in actor_pids(state_dir).items():
            pids_seen.setdefault(name, set()).add(pid)
            peaks[name] = max(peaks.get(name, 0), rss_bytes(pid, "VmRSS"), rss_bytes(pid, "VmHWM"))
        if until.is_set():
            return
        await asyncio.sleep(RSS_SAMPLE_SECONDS)


def supervisor_restarts(log_path: pathlib.Path, offset: int) -> collections.Counter:
    """Actor exits the supervisor logged after byte ``offset`` of its log, by actor."""
    exits = collections.Counter()
    with open(log_path, "rb") as log:
        log.seek(offset)
        for line in log.read().decode(errors="replace").splitlines():
            if 'msg="actor exited"' in line:
                name = next((field.split("=", 1)[1] for field in line.split() if field.startswith("actor_name=")), "?")
                exits[name] += 1
    return exits


# -- the run -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Target:
    """The manager under test and the keys to hammer it with."""

    manager: Host
    config: HostConfig
    identities: dict[str, keys.KeyPair]
    ids: list[str]


def target_of(manager_dir: pathlib.Path, worker_dir: pathlib.Path | None) -> Target:
    """The manager in ``manager_dir`` (loopback only) and the stranger, worker and manager keys."""
    config = HostConfig.load(manager_dir)
    if not ipaddress.ip_address(config.addr).is_loopback:
        raise SystemExit(f"refusing to fuzz {config.addr}: only loopback targets")
    identities = {"stranger": keys.generate()}
    ids = [config.node_id]
    if worker_dir is not None:
        worker = HostConfig.load(worker_dir)
        identities["worker"] = worker.host_keys()
        ids.append(worker.node_id)
    identities["manager"] = config.host_keys()
    return Target(Host(manager_dir, config.port), config, identities, ids)


async def fuzz(target: Target, seconds: float, max_messages: int, seed: int) -> dict:
    """Hammer every socket of ``target`` from every identity, within the bounds; the run's numbers."""
    rng = random.Random(seed)
    address = target.config.local_manager()
    deadline = time.monotonic() + seconds
    share = max_messages // (len(target.identities) * len(MANAGER_SOCKETS) + 1)  # the last share: raw TCP
    tallies = {(who, name): Tally() for who in target.identities for name in MANAGER_SOCKETS}
    tcp = collections.Counter()
    peaks, pids_seen = {}, {}
    log_path = target.manager.state_dir / "logs" / "shoald.log"
    log_offset = log_path.stat().st_size
    done = asyncio.Event()
    watcher = asyncio.ensure_future(watch_actors(target.manager.state_dir, done, peaks, pids_seen))
    context = zmq.asyncio.Context()
    try:
        senders = [hammer(context, keypair, address.endpoint(name), address.public_key.encode(), name, target.ids,
                          Budget(deadline, share), random.Random(rng.random()), tallies[(who, name)])
                   for who, keypair in target.identities.items() for name in MANAGER_SOCKETS]
        ports = [address.port + PORT_OFFSETS[name] for name in MANAGER_SOCKETS]
        started = time.monotonic()
        await asyncio.gather(*senders, garbage_tcp(address.addr, ports, Budget(deadline, share), random.Random(rng.random()),
                                                   tcp))
        elapsed = time.monotonic() - started
    finally:
        context.destroy(linger=0)
        done.set()
        await watcher
    return {"tallies": tallies, "tcp": tcp, "peaks": peaks, "pids": pids_seen, "elapsed": elapsed,
            "exits": supervisor_restarts(log_path, log_offset)}


def converges(manager: Host) -> str:
    """Whether a new two-replica service converges on the cluster after the run, and how fast."""
    started = time.monotonic()
    result = manager.shoal("service", "create", "--name", "after-fuzz", "--replicas", "2", "--timeout", "120",
                           IMAGE, "sleep", "1000", check=False, timeout=180)
    seconds = time.monotonic() - started
    manager.shoal("service", "rm", "after-fuzz", check=False)
    if result.returncode == 0 and "verify: Service converged" in result.stdout:
        return f"yes, in {seconds:.1f} s"
    return f"NO: {result.stderr.strip()[:200]}"


def report(numbers: dict, seconds: float, max_messages: int, seed: int, convergence: str) -> str:
    """The run as Markdown: per key and socket, then per actor."""
    tallies, exits = numbers["tallies"], numbers["exits"]
    lines = ["# Fuzzing a live manager's ports", "",
             f"Run of `python3 benchmarks/fuzz_ports.py --seconds {seconds:g} --max-messages {max_messages} --seed {seed}` "
             f"on {datetime.date.today().isoformat()}: a one-manager, one-worker cluster on loopback, "
             f"{os.cpu_count()} CPUs shared with other work. {numbers['elapsed']:.1f} s of sending.", "",
             "A stranger's key is refused by ZAP everywhere but the join port, so most of what it queues never "
             "reaches a server (sent counts what ZeroMQ accepted to send); a worker's key reaches only the "
             "join port and the dispatcher; the manager's own key reaches every socket. The raft peer socket and "
             "the change stream never reply; ZeroMQ drops a connection that sends a frame over the socket's "
             "limit, so `oversized` messages get no reply either.", "",
             "| key | socket | sent | replies | error replies (by code) |", "|---|---|---:|---:|---|"]
    for (who, name), tally in tallies.items():
        codes = ", ".join(f"{code} {count}" for code, count in tally.errors.most_common()) or "-"
        lines.append(f"| {who} | {name} | {tally.sent} | {tally.replies} | {codes} |")
    total_sent = sum(t.sent for t in tallies.values())
    total_errors = sum(sum(t.errors.values()) for t in tallies.values())
    tcp = numbers["tcp"]
    lines += ["", f"Total: {total_sent} messages sent, {total_errors} error replies, "
                  f"{sum(t.replies for t in tallies.values())} other replies; raw TCP: {tcp['connections']} garbage "
                  f"connections ({tcp['bytes']} bytes), {tcp['reset'] + tcp['refused']} reset or refused.", "",
              "| actor | restarts (supervisor log) | pids seen | peak RSS (MB) |", "|---|---:|---:|---:|"]
    for name in sorted(numbers["peaks"]):
        lines.append(f"| {name} | {exits.get(name, 0)} | {len(numbers['pids'][name])} | "
                     f"{numbers['peaks'][name] / 1e6:.1f} |")
    lines += ["", f"A new service converged afterwards: {convergence}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (default 30)")
    parser.add_argument("--max-messages", type=int, default=100_000, help="messages (and TCP connections) in all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state-dir", type=pathlib.Path, help="a running manager host's state directory")
    parser.add_argument("--worker-state-dir", type=pathlib.Path, help="a worker host of that cluster, for its key")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="where to write the report (Markdown)")
    args = parser.parse_args()
    cluster = None
    try:
        if args.state_dir is None:
            cluster = Cluster(pathlib.Path(tempfile.mkdtemp(prefix="shoal-fuzz-")))
            manager = cluster.init_manager()
            worker = cluster.join_worker("worker")
            wait_until(lambda: manager.json("node", "inspect", worker.node_id)[0]["Status"]["State"] == "ready", 30,
                       what="the worker ready")
            target = target_of(manager.state_dir, worker.state_dir)
        else:
            target = target_of(args.state_dir.resolve(), args.worker_state_dir and args.worker_state_dir.resolve())
        numbers = asyncio.run(fuzz(target, args.seconds, args.max_messages, args.seed))
        convergence = converges(target.manager)
        text = report(numbers, args.seconds, args.max_messages, args.seed, convergence)
    finally:
        if cluster is not None:
            cluster.teardown()
    args.out.write_text(text)
    print(text)
    if sum(numbers["exits"].values()) or not convergence.startswith("yes"):
        sys.exit("FAILED: an actor restarted or the cluster did not converge a new service")


if __name__ == "__main__":
    main()
