#!/usr/bin/env python3
"""Time to N running replicas, and time to replace a killed container, for Shoal,
Docker Swarm and the raw engine on this machine, side by side.

Every system is judged the same way: the clock starts when the command that
asks for the replicas starts, and stops when the Docker engine reports N
running containers carrying the system's labels. Prints a Markdown table and
writes it to docs/benchmarks.md (section "Convergence").

    python3 benchmarks/converge.py [--sizes 50 200] [--skip-swarm]

Everything runs on loopback and on the local engine; every wait is bounded.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import docker

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.report import replace_section  # noqa: E402
from tests.integration.cluster import Cluster, Host, wait_until  # noqa: E402

IMAGE = "shoal-test:latest"
CONVERGE_TIMEOUT = 600
RESULTS = REPO / "docs" / "benchmarks.md"


def running(client: docker.DockerClient, label: str) -> list[dict]:
    """Running containers carrying ``label`` (``key=value``), as the engine lists them (Id, Labels)."""
    return client.api.containers(filters={"label": label, "status": "running"})


def any_container(client: docker.DockerClient, label: str) -> bool:
    """True while any container (any state) carries ``label``."""
    return bool(client.api.containers(all=True, filters={"label": label}))


def wait_running(client, label: str, count: int, started: float) -> float:
    """Seconds from ``started`` until ``count`` containers with ``label`` run."""
    wait_until(lambda: len(running(client, label)) >= count, CONVERGE_TIMEOUT, interval=0.05,
               what=f"{count} running containers with {label}")
    return time.monotonic() - started


def wait_replacement(client, label: str, victim_id: str, started: float) -> float:
    """Seconds from ``started`` until a container other than ``victim_id`` with ``label`` runs."""
    wait_until(lambda: any(c["Id"] != victim_id for c in running(client, label)), 60, interval=0.02,
               what="a replacement container")
    return time.monotonic() - started


def remove_labelled(client, label: str) -> None:
    """Force-remove every container carrying ``label``."""
    for container in client.api.containers(all=True, filters={"label": label}):
        client.api.remove_container(container["Id"], force=True)


# -- raw engine -------------------------------------------------------------
def raw_engine(client, count: int) -> float:
    """Create and start ``count`` containers through the docker package with a thread pool."""
    label = "shoal.bench=raw"

    def start_one(index: int) -> None:
        client.containers.run(IMAGE, ["sleep", "1000"], detach=True, labels={"shoal.bench": "raw"}, name=f"raw-bench-{index}")

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(start_one, range(count)))
    elapsed = wait_running(client, label, count, started)
    remove_labelled(client, label)
    return elapsed


# -- Docker Swarm -----------------------------------------------------------
def docker_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=300)


def swarm_converge(client, count: int) -> float:
    """``docker service create --replicas count`` on a loopback swarm."""
    label = "com.docker.swarm.service.name=bench"
    started = time.monotonic()
    docker_cli("service", "create", "--detach", "--name", "bench", "--replicas", str(count), IMAGE, "sleep", "1000")
    elapsed = wait_running(client, label, count, started)
    docker_cli("service", "rm", "bench")
    wait_until(lambda: not any_container(client, label), 300, interval=0.5,
               what="swarm containers removed")
    return elapsed


def swarm_restart(client) -> float:
    """Kill the one container of a 1-replica service (restart delay 0) and time its replacement."""
    label = "com.docker.swarm.service.name=phoenix"
    docker_cli("service", "create", "--detach", "--name", "phoenix", "--restart-delay", "0s", IMAGE, "sleep", "1000")
    wait_running(client, label, 1, time.monotonic())
    victim = running(client, label)[0]
    started = time.monotonic()
    client.api.kill(victim["Id"])
    elapsed = wait_replacement(client, label, victim["Id"], started)
    docker_cli("service", "rm", "phoenix")
    return elapsed


def with_swarm(fn):
    """Run ``fn`` inside a fresh single-node swarm on loopback, leaving it afterwards."""
    docker_cli("swarm", "leave", "--force", check=False)
    docker_cli("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        return fn()
    finally:
        docker_cli("swarm", "leave", "--force", check=False)


# -- Shoal ------------------------------------------------------------------
def shoal_converge(client, manager: Host, count: int) -> float:
    label = "shoal.service.name=bench"
    started = time.monotonic()
    manager.shoal("service", "create", "--detach", "--name", "bench", "--replicas", str(count), IMAGE, "sleep", "1000")
    elapsed = wait_running(client, label, count, started)
    manager.shoal("service", "rm", "bench")
    wait_until(lambda: not any_container(client, label), 300, interval=0.5,
               what="shoal containers removed")
    return elapsed


def shoal_restart(client, manager: Host) -> float:
    label = "shoal.service.name=phoenix"
    manager.shoal("service", "create", "--name", "phoenix", "--restart-delay", "0", IMAGE, "sleep", "1000")
    victim = running(client, label)[0]
    started = time.monotonic()
    client.api.kill(victim["Id"])
    elapsed = wait_replacement(client, label, victim["Id"], started)
    manager.shoal("service", "rm", "phoenix")
    return elapsed


def shoal_node_failover(client, cluster: Cluster) -> float:
    """kill -9 a worker host running 2 of 4 replicas; time until 4 run on the manager."""
    manager, worker = cluster.hosts[0], cluster.join_worker("victim")
    wait_until(lambda: worker.node_id in manager.shoal("node", "ls", "-q").stdout, 20, what="worker listed")
    time.sleep(1)
    manager.shoal("service", "create", "--name", "spread", "--replicas", "4", IMAGE, "sleep", "1000")
    started = time.monotonic()
    worker.kill9()
    wait_until(lambda: len([c for c in running(client, "shoal.service.name=spread")
                            if c["Labels"].get("shoal.node.id") == manager.node_id]) >= 4, 60, interval=0.02,
               what="4 replicas on the manager")
    elapsed = time.monotonic() - started
    manager.shoal("service", "rm", "spread")
    remove_labelled(client, f"shoal.node.id={worker.node_id}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--skip-swarm", action="store_true", help="leave Docker Swarm out (it changes the engine's mode)")
    args = parser.parse_args()
    client = docker.from_env()
    rows = []
    root = pathlib.Path(tempfile.mkdtemp(prefix="shoal-bench-"))
    cluster = Cluster(root)
    try:
        manager = cluster.init_manager()
        for size in args.sizes:
            raw = raw_engine(client, size)
            shoal = shoal_converge(client, manager, size)
            swarm = None if args.skip_swarm else with_swarm(lambda: swarm_converge(client, size))
            rows.append((f"{size} replicas running", shoal, swarm, raw))
            print(rows[-1], flush=True)
        shoal_kill = shoal_restart(client, manager)
        swarm_kill = None if args.skip_swarm else with_swarm(lambda: swarm_restart(client))
        rows.append(("docker kill to replacement running", shoal_kill, swarm_kill, None))
        rows.append(("worker host kill -9 to its tasks running elsewhere", shoal_node_failover(client, cluster), None, None))
    finally:
        cluster.teardown()
        shutil.rmtree(root, ignore_errors=True)
    table = render(rows)
    print(table)
    save(table)
    return 0


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def render(rows) -> str:
    lines = ["| measurement | Shoal | Docker Swarm | raw engine | Shoal / Swarm | Shoal / raw |",
             "|---|---|---|---|---|---|"]
    for name, shoal, swarm, raw in rows:
        lines.append(f"| {name} | {fmt(shoal)} | {fmt(swarm)} | {fmt(raw)} | {ratio(shoal, swarm)} | {ratio(shoal, raw)} |")
    return "\n".join(lines)


def save(table: str) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    engine = json.loads(docker_cli("version", "--format", "{{json .Server}}").stdout).get("Version", "?")
    section = (f"## Convergence\n\nMeasured {stamp} on this 2-core machine, Docker engine {engine}, "
               f"by `python3 benchmarks/converge.py`.\n\n{table}\n")
    replace_section(RESULTS, "## Convergence", section)


if __name__ == "__main__":
    sys.exit(main())
