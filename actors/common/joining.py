"""What a host sends to join a swarm, and how it keeps what the manager answered.

Shared by ``shoal swarm join`` and simulated nodes (actors/simnodes), so a
simulated node joins exactly as a real one does: its own key pair, its own
``join`` request through a manager's join socket, its own state directory.
"""

from __future__ import annotations

import pathlib

from actors.common import datakey
from actors.common.hostconfig import HostConfig, ManagerAddress
from transport import keys


def join_request(token: str, host: keys.KeyPair, hostname: str, addr: str, port: int,
                 metrics: dict | None = None) -> dict:
    """The body of a ``join`` request from the host with key pair ``host``, reached at ``addr``:``port``, its
    actors' metrics served as ``metrics`` says (the node's ``Shoal.Metrics``: addr, scheme; None: plain HTTP on
    127.0.0.1)."""
    body = {"token": token, "public_key": host.public_text, "hostname": hostname, "addr": addr, "port": port}
    return {**body, "metrics": metrics} if metrics else body


def save_joined(state_dir: pathlib.Path, reply: dict, host: keys.KeyPair, addr: str, port: int,
                hostname: str, metrics_addr: str = "127.0.0.1", metrics_web_config: str = "") -> HostConfig:
    """Write the joined host's keys and host.json into ``state_dir`` from the manager's ``reply``
    to its join request (its metrics served on ``metrics_addr`` with web config file ``metrics_web_config``);
    returns the host's config. A manager lists itself among the managers and keeps
    the cluster's data key the reply carries (datakey.DataKeyError when it lacks one)."""
    keys.save(state_dir / "keys", "host", host)
    role = reply["role"]
    if role == "manager":
        datakey.store_with_kek(state_dir, reply["cluster_id"], datakey.from_wire(reply.get("data_key")))
    managers = [ManagerAddress(**m) for m in reply["managers"] if m["node_id"] != reply["node_id"]]
    if role == "manager":
        managers.append(ManagerAddress(reply["node_id"], addr, port, host.public_text))
    config = HostConfig(state_dir, role, reply["node_id"], reply["cluster_id"], addr, port, hostname, managers,
                        metrics_addr=metrics_addr, metrics_web_config=metrics_web_config)
    config.save()
    return config
