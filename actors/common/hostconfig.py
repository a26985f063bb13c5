"""A host's state directory: its identity, its cluster, its ports.

Layout of ``--state-dir`` (one per host)::

    host.json         role, node id, cluster id, address, base port, managers,
                      the Raft voters to start with, the metrics address and web config
    keys/host.key     the host's CURVE key pair (its node identity)
    keys/admin.key    the CLI's key pair (manager hosts only)
    raft/             the Raft member's log and snapshots
    logs/ACTOR.log    each actor's one-line structured log
    docker.sock       the Docker Engine API (manager hosts; mode 0600)
    keys/engine-api/  the Engine API's CA and server certificate, when it is served on TCP with mutual TLS
    shoald.pid        the supervisor's pid while it runs
    keys/data.key     the cluster's data key, wrapped (manager hosts only: actors/common/datakey.py)
    keys/kek.key      the key that wraps it, unless autolock is on
    unlock.sock       shoald's unlock socket, only while the manager is locked (autolock)
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from transport import keys

DEFAULT_PORT = 2377

# Offsets from a manager host's base port. Dispatcher instances 1 and 2 (instance 0 is the dispatcher's
# own) listen on the ports after raft_peer's, and serve their metrics on the two after those.
MAX_DISPATCHERS = 3
MANAGER_SOCKETS = ("join", "control", "raft_api", "changes", "dispatcher", "raft_peer")  # on every manager
PORT_OFFSETS = {**{name: offset for offset, name in enumerate(MANAGER_SOCKETS)},
                **{f"dispatcher-{instance}": 5 + instance for instance in range(1, MAX_DISPATCHERS)}}
DISPATCHER_METRICS_OFFSET = 5 + MAX_DISPATCHERS  # + instance - 1
METRICS_BASE_OFFSET = 10
ACTOR_INDEX = {"raft": 0, "controlapi": 1, "orchestrator": 2, "allocator": 3, "scheduler": 4, "dispatcher": 5, "executor": 6,
               "engineapi": 7}
MANAGER_ACTORS = ("raft", "controlapi", "orchestrator", "allocator", "scheduler", "dispatcher", "executor", "engineapi")
SHARD_SEPARATOR = "-shard-"  # a sharded actor's process name: scheduler-shard-1-of-2
INSTANCE_SEPARATOR = "-instance-"  # a further dispatcher's process name: dispatcher-instance-1
# Metrics of the scheduler's shards 1..MAX_SHARDS-1 (shard 0 has the scheduler's): the ports after the actors'.
SHARD_METRICS_OFFSET = METRICS_BASE_OFFSET + len(ACTOR_INDEX)
MAX_SHARDS = 4
SUPERVISOR = "shoald"  # the supervisor's metrics (actor restarts) are on the port after the shards'
SUPERVISOR_METRICS_OFFSET = SHARD_METRICS_OFFSET + MAX_SHARDS - 1
WORKER_ACTORS = ("executor",)
UNLOCK_SOCKET = "unlock.sock"
LOCKED_MESSAGE = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "shoal swarm unlock" '
                  "to unlock it.")


def actor_arguments(process: str) -> list[str]:
    """``bin/shoal-actor``'s arguments for a process name of :attr:`HostConfig.actors`: the actor's name,
    ``--shard K/N`` for a shard's process, ``--instance K`` for a further dispatcher's."""
    name, separator, shard = process.partition(SHARD_SEPARATOR)
    if separator:
        return [name, "--shard", shard.replace("-of-", "/")]
    name, separator, instance = process.partition(INSTANCE_SEPARATOR)
    return [name, "--instance", instance] if separator else [name]


def dispatcher_socket(instance: int) -> str:
    """The PORT_OFFSETS name of dispatcher ``instance``'s socket."""
    return "dispatcher" if instance == 0 else f"dispatcher-{instance}"


def dispatcher_name(node_id: str, instance: int) -> str:
    """How dispatcher ``instance`` of manager ``node_id`` is named in the store (its presence lease's holder,
    a node's ``Shoal.Dispatcher``): the node id for instance 0, ``NODE/K`` for the others (a lease holder's
    node is the part before the ``/``: actors/common/leases.py)."""
    return node_id if instance == 0 else f"{node_id}/{instance}"


def metrics_port(base_port: int, actor: str, instance: int = 0) -> int:
    """The metrics port of ``actor`` (its process ``instance``: HostConfig.metrics_port) on the host whose
    base port is ``base_port``."""
    if actor == SUPERVISOR:
        return base_port + SUPERVISOR_METRICS_OFFSET
    if not instance:
        return base_port + METRICS_BASE_OFFSET + ACTOR_INDEX[actor]
    return base_port + (DISPATCHER_METRICS_OFFSET if actor == "dispatcher" else SHARD_METRICS_OFFSET) + instance - 1


class NotInitialised(Exception):
    """The state directory holds no host (``swarm init``/``join`` was not run there)."""


def default_state_dir() -> pathlib.Path:
    """``$SHOAL_STATE_DIR`` or ``~/.shoal``."""
    return pathlib.Path(os.environ.get("SHOAL_STATE_DIR") or pathlib.Path.home() / ".shoal")


@dataclasses.dataclass
class ManagerAddress:
    """Where a manager host listens and the key its sockets present."""

    node_id: str
    addr: str
    port: int
    public_key: str
    # The dispatcher instances that run on it: 0 always, others while their presence lease is live.
    dispatchers: list[int] = dataclasses.field(default_factory=lambda: [0])

    def endpoint(self, name: str) -> str:
        """TCP endpoint of socket ``name`` (a PORT_OFFSETS key) on this manager."""
        return f"tcp://{self.addr}:{self.port + PORT_OFFSETS[name]}"


def node_address(node: dict) -> ManagerAddress | None:
    """Where the host of store object ``node`` listens (None when it did not say)."""
    endpoints, key = (node.get("Shoal") or {}).get("Endpoints"), (node.get("Shoal") or {}).get("PublicKey")
    if not endpoints or not key:
        return None
    return ManagerAddress(node["ID"], endpoints["addr"], endpoints["port"], key)


def manager_address_dicts(nodes, dispatchers: set[str] = frozenset()) -> list[dict]:
    """The addresses of the managers among store objects ``nodes`` (an iterable), by node id, as plain
    dicts of ManagerAddress fields: the form sent to joining hosts and executors. Each lists its dispatcher
    instances: 0, and those of its further ones that ``dispatchers`` names (:func:`dispatcher_name`)."""
    found = [node_address(node) for node in nodes if (node.get("Spec") or {}).get("Role") == "manager"]
    instances = {}
    for name in dispatchers:
        node_id, _, instance = name.partition("/")
        if instance.isdigit():
            instances.setdefault(node_id, []).append(int(instance))
    for address in found:
        if address is not None:
            address.dispatchers = [0, *sorted(instances.get(address.node_id, []))]
    return [dataclasses.asdict(address) for address in sorted((a for a in found if a is not None), key=lambda a: a.node_id)]


@dataclasses.dataclass
class HostConfig:
    """The contents of ``host.json`` plus the directory it lives in."""

    state_dir: pathlib.Path
    role: str
    node_id: str
    cluster_id: str
    addr: str
    port: int
    hostname: str
    managers: list[ManagerAddress]
    # The Raft voters a manager starts with when its log says nothing else: just itself
    # for the host that ran ``swarm init``, none for a manager that joins (it waits to be added).
    initial_voters: list[str] = dataclasses.field(default_factory=list)
    # Scheduler processes a manager runs, each placing one shard of the services (docs/operations.md).
    scheduler_shards: int = 1
    # Dispatcher processes a manager runs, each serving the nodes that pick it (docs/operations.md).
    dispatchers: int = 1
    # Where the actors serve their metrics (swarm init/join --metrics-addr), and Prometheus's web
    # configuration file they apply (--metrics-web-config: TLS, basic auth; "" for plain HTTP).
    metrics_addr: str = "127.0.0.1"
    metrics_web_config: str = ""
    # ADDR:PORT where the manager serves the Docker Engine API on TCP with mutual TLS, besides docker.sock
    # (``shoal engine-api enable``; actors/common/tlsfiles.py); None: the unix socket only.
    engine_api_addr: str | None = None

    @property
    def is_manager(self) -> bool:
        """True for a manager host."""
        return self.role == "manager"

    @property
    def actors(self) -> tuple[str, ...]:
        """The actor processes this host runs: a sharded scheduler as one process per shard, named
        ``scheduler-shard-K-of-N``, and the dispatcher beside its further instances, named
        ``dispatcher-instance-K`` for K from 1 (see :func:`actor_arguments`)."""
        if not self.is_manager:
            return WORKER_ACTORS
        shards = self.scheduler_shards
        further = [f"dispatcher{INSTANCE_SEPARATOR}{number}" for number in range(1, self.dispatchers)]
        return tuple(process for name in MANAGER_ACTORS for process in (
            [f"{name}{SHARD_SEPARATOR}{number}-of-{shards}" for number in range(shards)]
            if name == "scheduler" and shards > 1 else [name, *further] if name == "dispatcher" else [name]))

    def bind_endpoint(self, name: str) -> str:
        """Endpoint this (manager) host binds socket ``name`` on."""
        return f"tcp://{self.addr}:{self.port + PORT_OFFSETS[name]}"

    def metrics_port(self, actor: str, instance: int = 0) -> int:
        """HTTP port of ``actor``'s Prometheus metrics on this host; ``instance``: of the scheduler's process
        for that shard (the base port + 18, 19, 20 for shards 1 to 3), of the dispatcher's further instance
        (+ 8, 9 for instances 1 and 2); ``shoald``'s, the supervisor's, is the base port + 21."""
        return metrics_port(self.port, actor, instance)

    def local_manager(self) -> ManagerAddress:
        """This host's own entry among the managers (manager hosts only)."""
        for manager in self.managers:
            if manager.node_id == self.node_id:
                return manager
        raise NotInitialised(f"host {self.node_id} is not a manager")

    def host_keys(self) -> keys.KeyPair:
        """The host's CURVE key pair."""
        return keys.load(self.state_dir / "keys", "host")

    def admin_keys(self) -> keys.KeyPair:
        """The CLI's admin key pair; FileNotFoundError on a worker host."""
        return keys.load(self.state_dir / "keys", "admin")

    @property
    def is_locked(self) -> bool:
        """True while this manager's shoald waits for ``shoal swarm unlock`` (its unlock socket exists)."""
        return self.is_manager and (self.state_dir / UNLOCK_SOCKET).exists()

    def path(self, *parts: str) -> pathlib.Path:
        """A path inside the state directory."""
        return self.state_dir.joinpath(*parts)

    def save(self) -> None:
        """Write host.json atomically (write, fsync, rename)."""
        data = {k: v for k, v in dataclasses.asdict(self).items() if k != "state_dir"}
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.state_dir / "host.json.tmp"
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_dir / "host.json")

    @classmethod
    def load(cls, state_dir: pathlib.Path) -> "HostConfig":
        """Read host.json from ``state_dir``; NotInitialised if there is none."""
        path = pathlib.Path(state_dir) / "host.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotInitialised(f"{state_dir} holds no Shoal host: run 'shoal swarm init' or 'shoal swarm join' first") from None
        data["managers"] = [ManagerAddress(**m) for m in data.get("managers", [])]
        return cls(state_dir=pathlib.Path(state_dir), **data)
