"""A store far larger than any message, built through real proposals, and what to measure on it.

Shared by tests/integration/test_large_store.py and benchmarks/large_store.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import urllib.request

import zmq.asyncio

from actors.common.hostconfig import HostConfig
from tests.integration.cluster import IMAGE, Host, wait_until
from tests.integration.raftmembers import connect
from transport import limits, schema

# One big service: many labels of the largest allowed value, well under OBJECT_BYTES in all.
LABEL_VALUE = "v" * (limits.LABEL_VALUE_CHARS - 96)
LABELS_PER_SERVICE = int(0.75 * limits.OBJECT_BYTES) // limits.LABEL_VALUE_CHARS
SERVICE_BYTES = LABELS_PER_SERVICE * limits.LABEL_VALUE_CHARS
REPLY_MESSAGE_BYTES_PLUS = limits.REPLY_MESSAGE_BYTES + limits.PAGE_BYTES
SERVICES_PER_PROPOSAL = 1  # as the control API proposes them


def big_service(template: dict, number: int) -> dict:
    """A copy of ``template`` (a service as inspected) with a new ID and name and ~SERVICE_BYTES of labels."""
    spec = {**template["Spec"], "Name": f"big{number:04d}",
            "Labels": {f"big.label.{label:04d}": LABEL_VALUE for label in range(LABELS_PER_SERVICE)}}
    return {"ID": schema.new_id(), "Spec": spec}


def store_client_run(host: Host, fn):
    """Run ``fn(store_client)`` against ``host``'s Raft member with the host's own (manager) key."""
    async def run():
        context = zmq.asyncio.Context()
        try:
            return await fn(connect(context, HostConfig.load(host.state_dir)))
        finally:
            context.destroy(linger=0)
    return asyncio.run(run())


def fill(host: Host, megabytes: int) -> list[str]:
    """Create services (replicas 0) until the store holds about ``megabytes`` MB; their IDs."""
    host.shoal("service", "create", "-d", "--name", "template", "--replicas", "0", IMAGE, "sleep", "1")
    template = host.json("service", "inspect", "template")[0]
    count = max(1, megabytes * 1_000_000 // SERVICE_BYTES)
    services = [big_service(template, number) for number in range(count)]

    async def propose_all(client):
        for start in range(0, count, SERVICES_PER_PROPOSAL):
            ops = [{"op": "create", "table": "services", "object": service}
                   for service in services[start:start + SERVICES_PER_PROPOSAL]]
            await client.propose(ops, timeout=30)
    store_client_run(host, propose_all)
    return [service["ID"] for service in services]


def touch_more_than_a_message(host: Host, service_ids: list[str]) -> int:
    """One small proposal patching enough services that its published changes add up to more than a
    message may carry (finding 1's wedge). Returns the batch's index."""
    count = REPLY_MESSAGE_BYTES_PLUS // SERVICE_BYTES + 1
    assert len(service_ids) >= count, "fill a store larger than one message first"
    ops = [{"op": "patch", "table": "services", "id": service_id, "set": {"Spec.Labels.touched": "1"}}
           for service_id in service_ids[:count]]
    return store_client_run(host, lambda client: client.propose(ops, timeout=30))["index"]


def service_count(host: Host) -> int:
    """How many services ``shoal service ls -q`` lists on ``host`` (AssertionError if it fails)."""
    return len(host.shoal("service", "ls", "-q", timeout=120).stdout.split())


def actor_pid(host: Host, actor: str) -> int | None:
    """The pid of ``host``'s ``actor`` process, or None."""
    for pid in host.pids():
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if actor.encode() in cmdline:
            return pid
    return None


def restart_actor(host: Host, actor: str) -> None:
    """SIGKILL ``host``'s ``actor`` and wait until shoald has started a new one."""
    first = wait_until(lambda: actor_pid(host, actor), 10, what=f"the {actor} process")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: actor_pid(host, actor) not in (None, first), 20, what=f"a new {actor}")


def metric(host: Host, actor: str, name: str) -> float:
    """The value of the metric sample ``name`` (no labels) exported by ``host``'s ``actor``."""
    port = HostConfig.load(host.state_dir).metrics_port(actor)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = re.search(rf"^{re.escape(name)} (\S+)$", body, re.M)
    if found is None:
        raise AssertionError(f"{actor} on {host.state_dir.name} exports no {name}")
    return float(found.group(1))


def snapshot_bytes(host: Host) -> int:
    """Size of the Raft member's snapshot file (0 when there is none yet)."""
    files = list((host.state_dir / "raft").glob("snapshot-*"))
    return max((path.stat().st_size for path in files), default=0)


def timed(fn) -> tuple[object, float]:
    """``(fn(), seconds it took)``."""
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started
