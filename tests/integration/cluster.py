"""Real clusters for end-to-end tests: hosts are state directories with their own ports,
their actors real processes, their containers real containers in the local engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import docker
import zmq
import zmq.asyncio

from actors.common.hostconfig import HostConfig
from actors.executor.tmpfs import TaskTmpfs
from transport import limits, sockets
from transport.rpc import RpcClient, RpcError

REPO = pathlib.Path(__file__).resolve().parents[2]
SHOAL = [sys.executable, str(REPO / "bin" / "shoal")]
IMAGE = "shoal-test:latest"
PORT_BLOCK = 25  # base ports handed out are this far apart: at least HOST_PORT_SPAN


def ports_free(base: int, count: int = limits.HOST_PORT_SPAN) -> bool:
    """True when 127.0.0.1:base..base+count-1 can all be bound."""
    for port in range(base, base + count):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZeroMQ binds
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


_HANDED_OUT: set[int] = set()  # bases already given: a caller may take several before it binds any


def free_base_port() -> int:
    """A base port with the HOST_PORT_SPAN ports a host uses all free (the last three: scheduler shards' metrics),
    never one this process was given before (three members picked before any binds must not share one)."""
    for _ in range(200):
        base = random.randrange(20000, 32000, PORT_BLOCK)  # below Linux's ephemeral range
        if base not in _HANDED_OUT and ports_free(base):
            _HANDED_OUT.add(base)
            return base
    raise RuntimeError("no free block of ports on loopback")


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


class Host:
    """One Shoal host: a state directory driven through the real CLI."""

    def __init__(self, state_dir: pathlib.Path, port: int):
        self.state_dir = state_dir
        self.port = port

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` as this host runs it (a host in a network namespace enters it first)."""
        return argv

    def shoal(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``shoal --state-dir DIR ARGS``; with ``check``, fail the test on a non-zero exit."""
        result = subprocess.run(self.command(SHOAL + ["--state-dir", str(self.state_dir), *args]), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"shoal {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def json(self, *args: str):
        """Run a CLI command that prints JSON and parse its output."""
        return json.loads(self.shoal(*args).stdout)

    @property
    def node_id(self) -> str:
        """This host's node id, from host.json."""
        return json.loads((self.state_dir / "host.json").read_text())["node_id"]

    def pids(self) -> list[int]:
        """Pids of every process (supervisor and actors) serving this host."""
        marker = str(self.state_dir)
        found = []
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(part.decode(errors="replace") == marker for part in cmdline) and int(entry.name) != os.getpid():
                found.append(int(entry.name))
        return found

    def kill9(self) -> None:
        """SIGKILL every process of this host and wait until they are gone."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not self.pids(), 10, what=f"processes of {self.state_dir} to die")

    def start_daemon(self) -> subprocess.Popen:
        """Start ``bin/shoald`` for this host again (as after a reboot)."""
        log = open(self.state_dir / "logs" / "shoald-restart.log", "ab")
        return subprocess.Popen(self.command([sys.executable, str(REPO / "bin" / "shoald"), "--state-dir", str(self.state_dir)]),
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)


class Cluster:
    """A first manager host and any number of joined hosts under one temporary directory."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.hosts: list[Host] = []

    def init_manager(self, *init_args: str) -> Host:
        """``swarm init [INIT_ARGS]`` a manager host on a free block of loopback ports."""
        port = free_base_port()
        manager = Host(self.root / "manager", port)
        self.hosts.append(manager)
        manager.shoal("swarm", "init", "--advertise-addr", f"127.0.0.1:{port}", *init_args)
        return manager

    def join_worker(self, name: str) -> Host:
        """Join a worker host with its own state directory and ports."""
        return self.join(name, "worker")

    def join(self, name: str, role: str) -> Host:
        """Join a host as ``role`` (worker or manager) through the first manager, on its own ports."""
        manager = self.hosts[0]
        token = manager.shoal("swarm", "join-token", "-q", role).stdout.strip()
        port = free_base_port()
        host = Host(self.root / name, port)
        self.hosts.append(host)
        host.shoal("swarm", "join", "--token", token, "--listen-addr", f"127.0.0.1:{port}", f"127.0.0.1:{manager.port}")
        return host

    def teardown(self) -> None:
        """Stop every host's processes and remove the containers of their nodes and their tasks' tmpfs mounts,
        then the cluster's bridge
        networks and mesh table (killed hosts cannot: a network left behind would hold its subnet, ingress's
        10.0.0.0/24, on the engine, and the next cluster's could not be made)."""
        node_ids, cluster_ids = [], set()
        for host in self.hosts:
            if (host.state_dir / "host.json").exists():
                node_ids.append(host.node_id)
                cluster_ids.add(json.loads((host.state_dir / "host.json").read_text())["cluster_id"])
            host.kill9()
        client = docker.from_env()
        for node_id in node_ids:
            for container in client.containers.list(all=True, filters={"label": f"shoal.node.id={node_id}"}):
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:  # an executor's removal, still running as its host died, won
                    pass
            TaskTmpfs(node_id).drop_all()  # the tmpfs of its tasks' secrets and configs, which it cannot drop
        for cluster_id in cluster_ids:
            for network in client.networks.list(filters={"label": f"shoal.cluster.id={cluster_id}"}):
                network.remove()
            # and its routing mesh's nft table, which a killed host cannot remove either
            subprocess.run(["nft", "delete", "table", "ip", f"shoal_mesh_{cluster_id}"], capture_output=True)


@contextlib.contextmanager
def running_cluster(root: pathlib.Path, workers: int = 2, init_args: tuple[str, ...] = ()):
    """A Cluster of a manager (``swarm init`` given ``init_args`` too) and ``workers`` worker hosts
    (``worker1``...), every node Ready, torn down (processes and containers) when the block ends."""
    cluster = Cluster(root)
    try:
        manager = cluster.init_manager(*init_args)
        for number in range(1, workers + 1):
            cluster.join_worker(f"worker{number}")
        wait_until(lambda: manager.shoal("node", "ls").stdout.count("Ready") == workers + 1, 30,
                   what=f"{workers + 1} ready nodes")
        yield cluster
    finally:
        cluster.teardown()


def manager_status(host) -> dict[str, str]:
    """node id -> MANAGER STATUS column of ``shoal node ls`` run on ``host`` ('' for workers)."""
    lines = host.shoal("node", "ls").stdout.splitlines()[1:]
    status = {}
    for line in lines:
        node_id = line.split()[0]
        rest = line.split()[-1]
        status[node_id] = rest if rest in ("Leader", "Reachable", "Unreachable") else ""
    return status


def leader_host(cluster, among):
    """The host of ``cluster`` that ``node ls`` on the first answering host of ``among`` shows as Leader."""
    for host in among:
        result = host.shoal("node", "ls", check=False)
        if result.returncode == 0:
            for line in result.stdout.splitlines()[1:]:
                if line.rstrip().endswith("Leader"):
                    node_id = line.split()[0]
                    return next((h for h in cluster.hosts if h.node_id == node_id), None)
    return None


def settled(host, expected: dict[str, str]):
    """``node ls``'s MANAGER STATUS on ``host`` when it shows ``expected`` (node id -> status), else None."""
    current = manager_status(host)
    return current if all(current.get(k) == v for k, v in expected.items()) else None


def containers(service: str, running_only: bool = True) -> list:
    """The engine's containers of ``service`` (by Shoal's labels)."""
    client = docker.from_env()
    for _ in range(10):
        try:
            return client.containers.list(all=not running_only, filters={"label": f"shoal.service.name={service}"})
        except docker.errors.NotFound:  # a container vanished between the engine's list and its inspect
            time.sleep(0.05)
    raise AssertionError(f"the engine kept changing the containers of {service} under us")


def nslookup_addresses(output: str) -> list[str]:
    """The IPv4 addresses busybox's ``nslookup -type=a NAME`` printed in ``output``, sorted (empty when
    none resolved)."""
    answers = output.split("Name:", 1)[1] if "Name:" in output else ""
    return sorted(line.split()[-1] for line in answers.splitlines() if line.strip().startswith("Address"))


def resolved(container, *names: str) -> dict[str, list[str]]:
    """name -> the IPv4 addresses it resolves to inside ``container`` (busybox nslookup, one exec for
    all), sorted; [] when it does not resolve."""
    script = " ; ".join(f"nslookup -type=a {name} ; echo @@" for name in names)
    outputs = container.exec_run(["sh", "-c", script]).output.decode().split("@@")
    return {name: nslookup_addresses(output) for name, output in zip(names, outputs)}


def tasks(manager: Host, service: str) -> list[dict]:
    """The service's tasks as the store has them (`shoal service ps --format json`)."""
    return manager.json("service", "ps", service, "--format", "json")


def metrics_page(host: Host, actor: str) -> str:
    """The Prometheus metrics page of ``actor`` (or ``shoald``) on ``host``, as exported."""
    port = HostConfig.load(host.state_dir).metrics_port(actor)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def metric(host: Host, actor: str, sample: str) -> float:
    """The value of ``sample`` (name and labels, as exported) among ``actor``'s Prometheus metrics on ``host``."""
    for line in metrics_page(host, actor).splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{actor} exports no {sample}")


def running_count(manager: Host, service: str) -> int:
    """How many of the service's tasks the cluster reports running with desired state running."""
    return sum(1 for task in tasks(manager, service)
               if task["Status"]["State"] == "running" and task["DesiredState"] == "running")


def call_as(keypair, manager: Host, socket_name: str, kind: str, body, timeout: float = 5.0):
    """One request to ``manager``'s socket ``socket_name`` (a PORT_OFFSETS key) signed by ``keypair``, as
    any holder of that key could send it; returns the reply body, or the RpcError the server answered."""
    address = HostConfig.load(manager.state_dir).local_manager()

    async def exchange():
        context = zmq.asyncio.Context()
        try:
            sock = sockets.client_socket(context, zmq.DEALER, address.endpoint(socket_name), keypair,
                                         address.public_key.encode())
            return await RpcClient(sock, socket_name).call(kind, body, timeout)
        except RpcError as exc:
            return exc
        finally:
            context.destroy(linger=0)
    return asyncio.run(exchange())
