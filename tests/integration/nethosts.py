"""Hosts in network namespaces for cross-host tests: each has its own network stack, Docker engine and Shoal
host, made and taken down by ``bin/shoal-nethosts`` (see its docstring for the layout and addresses).

The test process stays in the root namespace, which has no route to the hosts: the CLI and any other command
meant for a host run inside its namespace (:meth:`NetHost.run`, :meth:`NetHost.shoal`); engines are reached
over their unix sockets (:meth:`NetHost.engine`); a task's container runs commands through its engine
(:meth:`NetHost.exec`, :meth:`NetHost.wget`, :meth:`NetHost.nslookup`); a client outside every host, on the
lan's own address, sends HTTP requests to the hosts' addresses (:meth:`NetHosts.client_get`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import subprocess
import sys

import docker

from tests.integration.cluster import REPO, Host, nslookup_addresses, tasks

NETHOSTS = REPO / "bin" / "shoal-nethosts"
LANCLIENT = pathlib.Path(__file__).with_name("lanclient.py")
SHOAL_PORT = 2377  # every host listens on its own address's 2377, as Docker's default


class NetHost(Host):
    """One host of ``bin/shoal-nethosts``: its manifest entry, its engine, commands inside its namespace."""

    def __init__(self, entry: dict, lan_netns: str):
        super().__init__(pathlib.Path(entry["shoal_state_dir"]), SHOAL_PORT)
        self._lan_netns = lan_netns  # its veth's other end there is named after the host
        self.name = entry["name"]          # h1, h2, ...
        self.addr = entry["addr"]          # its address on the lan, where its Shoal host listens
        self.netns = entry["netns"]
        self.role = entry["role"]
        self.docker_host = entry["docker_host"]
        self._enter = entry["enter"]       # argv prefix: nsenter --net=... env DOCKER_HOST=... SHOAL_STATE_DIR=...
        self._engine = None

    def __repr__(self) -> str:
        return f"NetHost({self.name}, {self.addr})"

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host's namespace, with its engine as DOCKER_HOST."""
        return self._enter + list(argv)

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run ``argv`` inside this host's namespace; with ``check``, fail the test on a non-zero exit."""
        result = subprocess.run(self.command(list(argv)), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} on {self.name} exited {result.returncode}: "
                                 f"{(result.stderr or result.stdout).strip()}")
        return result

    def engine(self) -> docker.DockerClient:
        """A client of this host's own Docker engine."""
        if self._engine is None:
            self._engine = docker.DockerClient(base_url=self.docker_host, timeout=30)
        return self._engine

    def containers(self, service: str, running_only: bool = True) -> list:
        """This host's engine's containers of ``service`` (by Shoal's labels)."""
        return self.engine().containers.list(all=not running_only, filters={"label": f"shoal.service.name={service}"})

    def exec(self, container, *argv: str) -> tuple[int, str]:
        """Run ``argv`` in ``container`` (a container of this host's engine, or its id); exit code and output."""
        if isinstance(container, str):
            container = self.engine().containers.get(container)
        code, output = container.exec_run(list(argv))
        return code, output.decode(errors="replace")

    def wget(self, container, url: str, timeout: int = 2) -> tuple[int, str]:
        """``wget -q -O - URL`` from inside ``container``, killed after ``timeout`` s: exit code and body.
        (The test image's busybox wget crashes on its own ``-T``.)"""
        return self.exec(container, "timeout", str(timeout), "wget", "-q", "-O", "-", url)

    def nslookup(self, container, name: str) -> list[str]:
        """The IPv4 addresses busybox's ``nslookup NAME`` prints in ``container`` (empty when none resolve)."""
        return nslookup_addresses(self.exec(container, "nslookup", "-type=a", name)[1])

    def set_link(self, up: bool) -> None:
        """Connect this host to the lan (``up``) or cut it off: its end of the veth on the lan's bridge."""
        subprocess.run(["ip", "-n", self._lan_netns, "link", "set", self.name, "up" if up else "down"], check=True)

    def crash(self) -> None:
        """As a host that loses power: cut off from the lan, its Shoal processes killed; its engine and
        containers stay (unreachable), for :meth:`revive` to find."""
        self.set_link(False)
        self.kill9()

    def revive(self) -> None:
        """Back on the lan with its Shoal host started again (as after a reboot)."""
        self.set_link(True)
        self.start_daemon()

    def close(self) -> None:
        """Close the engine client, if one was made."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@dataclasses.dataclass
class Replica:
    """A running task of a service, as the hosts see it."""

    task_id: str
    host: NetHost
    container: object  # the docker-py Container on its host's engine
    addresses: dict[str, str]  # network name -> the task's address on it (no prefix length)


class NetHosts:
    """The hosts made by ``bin/shoal-nethosts up`` under one state directory: host 1 is the first manager."""

    def __init__(self, state_dir: pathlib.Path, manifest: dict):
        self.state_dir = state_dir
        self.hosts = [NetHost(entry, manifest["lan_netns"]) for entry in manifest["hosts"]]
        self.client_addr = manifest["client"]["addr"]
        self._client_enter = manifest["client"]["enter"]

    @property
    def manager(self) -> NetHost:
        """Host 1, which ran ``swarm init``."""
        return self.hosts[0]

    def __iter__(self):
        return iter(self.hosts)

    def __getitem__(self, index: int) -> NetHost:
        return self.hosts[index]

    def by_node(self) -> dict[str, NetHost]:
        """node id -> host."""
        return {host.node_id: host for host in self.hosts}

    def service_containers(self, service: str) -> dict[str, list]:
        """host name -> that host's engine's running containers of ``service``."""
        return {host.name: host.containers(service) for host in self.hosts}

    def replicas(self, service: str) -> list[Replica]:
        """The tasks of ``service`` desired and observed running, with their hosts, containers and addresses
        (from ``service ps``'s NetworksAttachments), in slot order."""
        by_node = {host.node_id: host for host in self.hosts}
        found = []
        for task in sorted(tasks(self.manager, service), key=lambda task: task.get("Slot") or 0):
            if task["DesiredState"] != "running" or task["Status"]["State"] != "running":
                continue
            host = by_node[task["NodeID"]]
            [container] = host.engine().containers.list(filters={"label": f"shoal.task.id={task['ID']}"})
            addresses = {attachment["Network"]["Spec"]["Name"]: attachment["Addresses"][0].split("/")[0]
                         for attachment in task.get("NetworksAttachments") or []}
            found.append(Replica(task["ID"], host, container, addresses))
        return found

    def client_get(self, *urls: str, rounds: int = 1, interval: float = 0.0, timeout: float = 2.0,
                   retries: int = 0, deadline: float = 60.0, stop_file: pathlib.Path | None = None) -> list[dict]:
        """GET each of ``urls`` ``rounds`` times from the client in the lan namespace (tests/integration/
        lanclient.py: a failed GET tried again up to ``retries`` times; stops after ``deadline`` s, or once
        ``stop_file`` exists); per
        GET ``{"url", "round", "at", "ok", "attempts", "body" or "error"}`` (``at``: its start, time.time())."""
        argv = [sys.executable, str(LANCLIENT), "--rounds", str(rounds), "--interval", str(interval),
                "--timeout", str(timeout), "--retries", str(retries), "--deadline", str(deadline),
                *(["--stop-file", str(stop_file)] if stop_file else []), *urls]
        result = subprocess.run(self._client_enter + argv, capture_output=True, text=True, timeout=deadline + 30,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"lanclient failed: {result.stderr.strip()}"
        return json.loads(result.stdout)


def nethosts_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``bin/shoal-nethosts ARGS``; fail the test on a non-zero exit."""
    result = subprocess.run([str(NETHOSTS), *args], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"shoal-nethosts {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


@contextlib.contextmanager
def running_nethosts(state_dir: pathlib.Path, count: int = 3, managers: int = 1):
    """``count`` hosts (``managers`` of them managers) in network namespaces, every node Ready; taken down
    (processes, containers, engines, namespaces; the logs kept) when the block ends, however it ends."""
    try:
        nethosts_cli("up", "--count", str(count), "--managers", str(managers), "--state-dir", str(state_dir))
        hosts = NetHosts(state_dir, json.loads((state_dir / "nethosts.json").read_text()))
        try:
            yield hosts
        finally:
            for host in hosts:
                host.close()
    finally:
        nethosts_cli("down", "--keep-logs", "--state-dir", str(state_dir))
