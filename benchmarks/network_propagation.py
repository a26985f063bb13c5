#!/usr/bin/env python3
"""How fast every host hears that a task is gone: from killing a task's container to the moment no host's
DNS server gives its address for ``tasks.NAME`` any more.

That path is the executor seeing the container die and reporting it, the dispatcher proposing the status,
the store committing it, the dispatcher's view taking the change, each touched host's network state worked
out and pushed (actors/network/hoststate.py), and each host's network agent handing it to its planes (the
DNS server among them). A real cluster of three hosts (a manager and two workers) on this machine's engine,
a service of three replicas on an overlay network, a client task and a global service on it (so that
no host leaves the network while its task is replaced); each trial kills one running
task's container with the engine's ``kill`` and asks each host's DNS server (on its own address on the
network) every 10 ms, at most 10 s, from a socket in the client task's network namespace, as the task
would (the servers answer by the asking task's networks). Prints each trial's time until the first and the last host dropped the address,
and the load average.

    python3 benchmarks/network_propagation.py [--trials 5] [--keep]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pathlib
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import docker  # noqa: E402
from dnslib import QTYPE, DNSRecord  # noqa: E402

from transport import schema  # noqa: E402
from tests.integration.cluster import IMAGE, Cluster, Host, free_base_port, tasks, wait_until  # noqa: E402

NAME = "h2prop"
CLIENT = "h2prop-client"
ANCHOR = "h2prop-anchor"
POOL = "10.74.0.0/16"
POLL_SECONDS = 0.01
TRIAL_SECONDS = 10.0


CLONE_NEWNET = 0x40000000


def socket_in(pid: int) -> socket.socket:
    """A UDP socket in the network namespace of process ``pid`` (made in a thread that joins it: a socket
    stays in the namespace it was made in, whichever thread uses it later)."""
    made = []

    def make():
        with open(f"/proc/{pid}/ns/net") as namespace:
            if ctypes.CDLL(None, use_errno=True).setns(namespace.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        made.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    made[0].settimeout(0.2)
    return made[0]


def addresses(sock: socket.socket, server: str, name: str) -> set[str] | None:
    """The A records ``server``'s DNS server gives for ``name`` (None when it does not answer in 0.2 s)."""
    query = DNSRecord.question(name)
    sock.sendto(query.pack(), (server, 53))
    try:
        while True:
            reply = DNSRecord.parse(sock.recv(4096))
            if reply.header.id == query.header.id:
                return {str(record.rdata) for record in reply.rr if record.rtype == QTYPE.A}
    except OSError:
        return None


def running(manager: Host, name: str = NAME) -> list[dict]:
    return [t for t in tasks(manager, name) if t["Status"]["State"] == "running" and t["DesiredState"] == "running"]


def node_addresses(manager: Host, network_id: str) -> list[str]:
    """Each node's own address on ``network_id`` (without its prefix)."""
    found = []
    for node_id in manager.shoal("node", "ls", "-q").stdout.split():
        for attachment in manager.json("node", "inspect", node_id)[0].get("Attachments") or []:
            if attachment["Network"]["ID"] == network_id:
                found.append(attachment["Addresses"][0].split("/")[0])
    return found


def trial(manager: Host, servers: list[str], engine, sock: socket.socket) -> tuple[float, float, float]:
    """Kill one running task's container; (seconds until the first host, and until every host, stopped
    giving its address; seconds until the store had the task's end, by the wall clock)."""
    wait_until(lambda: len(running(manager)) == 3, 60, what="three running tasks")
    wait_until(lambda: all(len(addresses(sock, s, "tasks." + NAME) or ()) == 3 for s in servers), 20,
               what="every host giving three addresses")
    victim = running(manager)[0]
    address = victim["NetworksAttachments"][0]["Addresses"][0].split("/")[0]
    container = engine.containers.get(victim["Status"]["ContainerStatus"]["ContainerID"])
    gone: dict[str, float] = {}
    killed, killed_at = time.monotonic(), time.time()
    container.kill()
    while len(gone) < len(servers) and time.monotonic() - killed < TRIAL_SECONDS:
        for server in servers:
            if server not in gone:
                answer = addresses(sock, server, "tasks." + NAME)
                if answer is not None and address not in answer:
                    gone[server] = time.monotonic() - killed
        time.sleep(POLL_SECONDS)
    if len(gone) < len(servers):
        late = {server: addresses(sock, server, "tasks." + NAME) for server in servers if server not in gone}
        raise AssertionError(f"after {TRIAL_SECONDS:g}s, hosts still giving {address} or not answering: {late}")
    ended = next(t for t in tasks(manager, NAME) if t["ID"] == victim["ID"])
    committed = schema.parse_time(ended["UpdatedAt"]) - killed_at  # its end written to the store
    return min(gone.values()), max(gone.values()), committed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running and its state on disk")
    args = parser.parse_args()
    cluster = Cluster(pathlib.Path(tempfile.mkdtemp(prefix="h2-propagation-")))
    try:
        port = free_base_port()
        manager = Host(cluster.root / "manager", port)
        cluster.hosts.append(manager)
        manager.shoal("swarm", "init", "--advertise-addr", f"127.0.0.1:{port}", "--default-addr-pool", POOL)
        for worker in ("worker1", "worker2"):
            cluster.join_worker(worker)
        network_id = manager.shoal("network", "create", NAME).stdout.strip()
        manager.shoal("service", "create", "-d", "--name", NAME, "--network", NAME, "--replicas", "3",
                      "--restart-delay", "0s", IMAGE, "sleep", "100000")
        manager.shoal("service", "create", "-d", "--name", CLIENT, "--network", NAME, IMAGE, "sleep", "100000")
        # A task of its own on every host keeps each host on the network, and so at the same address, while
        # its other task is replaced (a host with no task left on a network leaves it, and its address).
        manager.shoal("service", "create", "-d", "--name", ANCHOR, "--mode", "global", "--network", NAME, IMAGE,
                      "sleep", "100000")
        wait_until(lambda: len(running(manager)) == 3, 90, what="three running tasks")
        client = wait_until(lambda: running(manager, CLIENT), 90, what="the client task")[0]
        servers = wait_until(lambda: (lambda found: found if len(found) == 3 else None)(node_addresses(manager, network_id)),
                             30, what="three node addresses")
        engine = docker.from_env()
        pid = engine.containers.get(client["Status"]["ContainerStatus"]["ContainerID"]).attrs["State"]["Pid"]
        sock = socket_in(pid)
        results = [trial(manager, servers, engine, sock) for _ in range(args.trials)]
        load = os.getloadavg()
        for number, (first, last, committed) in enumerate(results, 1):
            print(f"trial {number}: the store had the task's end at {committed * 1000:.0f} ms, first host "
                  f"{first * 1000:.0f} ms, every host {last * 1000:.0f} ms")
        lasts = sorted(last for _, last, _ in results)
        print(f"every host: median {statistics.median(lasts) * 1000:.0f} ms, max {lasts[-1] * 1000:.0f} ms "
              f"({len(results)} trials); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        if args.keep:
            print("kept", cluster.root)
        else:
            cluster.teardown()
            shutil.rmtree(cluster.root, ignore_errors=True)


if __name__ == "__main__":
    main()
