"""The identities of simulated nodes: one host state directory per node under one directory.

Layout of ``--state-dir DIR``::

    DIR/nodes/0000/   host.json and keys/host.key of the first node, as ``shoal swarm join`` writes
    DIR/nodes/0001/   ...

Each node joins as a real host does (actors/common/joining.py): a key pair of
its own, a ``join`` request through a manager's join socket with a worker
token, the manager's reply kept in its host.json. Every node of one directory
says it is reached at the same address and base port (that of the process
running them, which serves their metrics there).
"""

from __future__ import annotations

import pathlib

import zmq

from actors.common import joining
from actors.common.hostconfig import HostConfig
from actors.common.log import Logger
from actors.controlapi import tokens
from transport import keys, sockets
from transport.rpccall import RpcError, call_blocking

JOIN_TIMEOUT = 10.0  # seconds for one node's join request
JOIN_ATTEMPTS = 5  # a join refused by a conflict (another host joined meanwhile) is tried again


def node_dir(state_dir: pathlib.Path, index: int) -> pathlib.Path:
    """The state directory of the ``index``-th simulated node."""
    return state_dir / "nodes" / f"{index:04d}"


def hostname(index: int) -> str:
    """The hostname the ``index``-th simulated node reports."""
    return f"sim-{index:04d}"


def joined(state_dir: pathlib.Path) -> list[HostConfig]:
    """The nodes that joined already, in index order (a directory without host.json is not one)."""
    dirs = sorted((state_dir / "nodes").glob("[0-9]*")) if (state_dir / "nodes").is_dir() else []
    return [HostConfig.load(path) for path in dirs if (path / "host.json").exists()]


def join_nodes(state_dir: pathlib.Path, token: str, remote: tuple[str, int], count: int, addr: str, port: int,
               log: Logger) -> list[HostConfig]:
    """The first ``count`` nodes of ``state_dir``: those that joined already, and new ones joined one by
    one through the join socket at ``remote`` (addr, port) with worker ``token``. RpcError when a
    manager refuses (a manager token, say: simulated nodes are workers) or does not answer."""
    nodes = joined(state_dir)[:count]
    key_hex, _ = tokens.parse(token)
    context = zmq.Context()
    try:
        for index in range(len(nodes), count):
            nodes.append(_join_one(context, node_dir(state_dir, index), hostname(index), token, key_hex, remote,
                                   addr, port))
            log.info("node joined", index=index, node=nodes[-1].node_id)
    finally:
        context.destroy(linger=0)
    return nodes


def _join_one(context: zmq.Context, directory: pathlib.Path, name: str, token: str, key_hex: str,
              remote: tuple[str, int], addr: str, port: int) -> HostConfig:
    """Join one new node; its keys and host.json go to ``directory``."""
    endpoint = f"tcp://{remote[0]}:{remote[1]}"
    host = keys.generate()

    def ask() -> dict:
        sock = sockets.client_socket(context, zmq.DEALER, endpoint, host, keys.public_from_hex(key_hex))
        try:
            return call_blocking(sock, endpoint, "join", joining.join_request(token, host, name, addr, port),
                                 JOIN_TIMEOUT)
        finally:
            sock.close(linger=0)

    for _ in range(JOIN_ATTEMPTS - 1):
        try:
            reply = ask()
            break
        except RpcError as exc:
            if exc.code != "conflict":
                raise
    else:
        reply = ask()
    if reply["role"] != "worker":
        raise RpcError("invalid", "simulated nodes join as workers: use a worker join token")
    return joining.save_joined(directory, reply, host, addr, port, name)
