#!/usr/bin/env python3
"""How much slow stops delay an executor's other work (issue 8).

Two timings on a fresh two-host cluster (a manager and a worker on the local
engine), with containers that ignore SIGTERM (``sleep`` as PID 1 has no
handler, so only the SIGKILL after the 10 s stop grace period ends it):

- create: remove a 6-replica service of such containers, then at once create
  a 3-replica service; seconds until the engine runs its 3 containers.
- leave: ``shoal swarm leave`` of a worker running 3 such containers.

    python3 benchmarks/executor_stops.py [--prefix h4]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import docker

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.cluster import Cluster, IMAGE, wait_until  # noqa: E402


def running(client: docker.DockerClient, service: str) -> int:
    """How many containers of ``service`` the engine runs."""
    return len(client.api.containers(filters={"label": f"shoal.service.name={service}", "status": "running"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="bench", help="prefix of the services' names")
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="shoal-stops-") as root:
        cluster = Cluster(pathlib.Path(root))
        try:
            manager = cluster.init_manager()
            worker = cluster.join_worker("worker")
            wait_until(lambda: all(" Ready " in line for line in manager.shoal("node", "ls").stdout.splitlines()[1:]),
                       60, what="both nodes ready")  # so the services spread over both
            slow, fresh = f"{args.prefix}-stubborn", f"{args.prefix}-fresh"
            manager.shoal("service", "create", "--name", slow, "--replicas", "6", IMAGE, "sleep", "1000")
            manager.shoal("service", "rm", slow)
            started = time.monotonic()
            manager.shoal("service", "create", "--detach", "--name", fresh, "--replicas", "3", IMAGE, "sleep", "1000")
            answered = time.monotonic() - started
            wait_until(lambda: running(client, fresh) == 3, 60, interval=0.05, what="3 running")
            print(f"create 3 replicas right after removing 6 stubborn tasks: {time.monotonic() - started:.1f} s "
                  f"(the CLI answered after {answered:.1f} s)")
            manager.shoal("service", "rm", fresh)
            wait_until(lambda: not client.api.containers(all=True, filters={"label": f"shoal.service.name={slow}"}),
                       60, what="the stubborn containers gone")
            manager.shoal("service", "create", "--name", slow, "--replicas", "6", IMAGE, "sleep", "1000")
            worker_count = len(client.api.containers(filters={"label": f"shoal.node.id={worker.node_id}"}))
            started = time.monotonic()
            worker.shoal("swarm", "leave")
            print(f"swarm leave of a worker running {worker_count} stubborn containers: "
                  f"{time.monotonic() - started:.1f} s")
        finally:
            cluster.teardown()


if __name__ == "__main__":
    main()
