"""Raft members as real processes on loopback, for tests: state directories, start, ask."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys

import zmq.asyncio

from actors.common.hostconfig import HostConfig, ManagerAddress
from actors.common.storeclient import StoreClient, StoreError
from actors.raft.member import FAULT_INJECTION_ENV
from tests.integration.cluster import REPO, free_base_port
from transport import codec, keys, schema


def connect(context: zmq.asyncio.Context, config: HostConfig) -> StoreClient:
    """A StoreClient of ``config``'s member on ``context``."""
    manager = config.local_manager()
    return StoreClient.connect(context, manager.endpoint("raft_api"), config.host_keys(), manager.public_key.encode())


def record(key: str, **fields) -> dict:
    """An object for the tests that use the store as a plain key-value store: a minimal valid task
    (the model requires ServiceID, DesiredState and Status) carrying ``fields``."""
    return {"ID": key, "ServiceID": "raft-test", "DesiredState": "running", "Status": {"State": "new"}, **fields}


def make_members(root: pathlib.Path, count: int = 3) -> list[HostConfig]:
    """State directories for ``count`` managers that know each other (as a bootstrap would write them)."""
    pairs = [keys.generate() for _ in range(count)]
    addresses = [ManagerAddress(schema.new_id(), "127.0.0.1", free_base_port(), pair.public_text) for pair in pairs]
    cluster = {"ID": "cluster", "Spec": {"Name": "default"}, "Shoal": {"AdminKeys": []}}
    nodes = [{"ID": a.node_id, "Spec": {"Role": "manager"}, "Status": {"State": "unknown"},
              "Shoal": {"PublicKey": a.public_key, "Endpoints": {"addr": a.addr, "port": a.port}}} for a in addresses]
    bootstrap = codec.encode({"ops": [{"op": "create", "table": "cluster", "object": cluster}] +
                             [{"op": "create", "table": "nodes", "object": n} for n in nodes]})
    configs = []
    for pair, address in zip(pairs, addresses):
        state_dir = root / address.node_id
        keys.save(state_dir / "keys", "host", pair)
        config = HostConfig(state_dir, "manager", address.node_id, "cluster", address.addr, address.port, "h", addresses,
                            [a.node_id for a in addresses])
        config.save()
        (state_dir / "bootstrap.msgpack").write_bytes(bootstrap)
        (state_dir / "logs").mkdir()
        configs.append(config)
    return configs


def start(config: HostConfig, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the raft actor of ``config``'s host, with fault injection enabled and ``env`` added."""
    log = open(config.path("logs", "raft.log"), "ab")
    return subprocess.Popen([sys.executable, str(REPO / "bin" / "shoal-actor"), "raft", "--state-dir", str(config.state_dir)],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            env={**os.environ, FAULT_INJECTION_ENV: "1", **(env or {})})


async def call(config: HostConfig, fn):
    """Run ``fn(client)`` with a fresh StoreClient of ``config``'s member."""
    context = zmq.asyncio.Context()
    client = connect(context, config)
    try:
        return await fn(client)
    finally:
        context.destroy(linger=0)


def status(config):
    """The member's Raft status, or None when it does not answer."""
    try:
        return asyncio.run(call(config, lambda c: c.status(timeout=1)))
    except StoreError:
        return None


def leader_of(configs):
    """The config of the member that says it leads, or None."""
    for config in configs:
        current = status(config)
        if current and current["role"] == "leader":
            return config
    return None
