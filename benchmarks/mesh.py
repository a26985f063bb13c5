#!/usr/bin/env python3
"""The routing mesh's cost: HTTP requests/s and latency (p50, p99) of a small web service through
Shoal's routing mesh against direct connections to its tasks, and whether Docker Swarm's ingress
can be measured on this machine at all.

    python3 benchmarks/mesh.py [--seconds 5] [--clients 4] [--trials 3] [--no-swarm]

Set-up, all made and removed by this script (names start with ``shoalbench``): a Docker bridge
network standing for the ingress network as the overlay plane makes it (the node's ingress address
on its bridge), two containers of the test image running busybox httpd on it, and Shoal's
load-balancing plane (actors/network/loadbalancer.py) applying a host network state that publishes
port 18080 to them, exactly as a host does: the mesh table, route_localnet, the DOCKER-USER rule. A
client namespace joined to the host by a veth pair stands for a machine outside.

Rows, each a fresh connection per request (HTTP/1.0, what exercises conntrack and NAT), ``--clients``
client processes for ``--seconds`` (at most 100,000 requests each):

- direct: from the host to the two tasks' own addresses, taken in turn by the client;
- mesh, 127.0.0.1: from the host to 127.0.0.1:18080 (DNAT to a task, SNAT to the node's address);
- mesh, from outside: from the client namespace to the host's address on the veth, port 18080
  (forwarded through Docker's FORWARD chain as well).

Swarm: a namespaced host with its own dockerd (bin/shoal-nethosts --engines-only) runs ``docker swarm
init`` and a service publishing port 8080 in ingress mode; if the port does not answer, the engine's
own IPVS error is printed instead of a number. Prints a Markdown table and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.network import loadbalancer  # noqa: E402

PREFIX = "shoalbench"
NETWORK = f"{PREFIX}-ingress"
SUBNET, GATEWAY, NODE_ADDRESS = "10.254.77.0/24", "10.254.77.1", "10.254.77.3"
TASKS = ("10.254.77.5", "10.254.77.6")
CLIENT_NS = f"{PREFIX}-client"
HOST_VETH, CLIENT_VETH = f"{PREFIX}0", f"{PREFIX}1"
HOST_OUTSIDE, CLIENT_OUTSIDE = "10.254.78.1", "10.254.78.2"
PUBLISHED = 18080
MAX_REQUESTS = 100_000
IMAGE = "shoal-test:latest"


def sh(*argv, check=True, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=check, **kwargs)


# -- the client -------------------------------------------------------------------------------------

def load(targets: list[tuple[str, int]], seconds: float) -> dict:
    """One client: new connection per request, targets in turn, until ``seconds`` or MAX_REQUESTS."""
    latencies, errors = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(latencies) + errors < MAX_REQUESTS:
        target = targets[(len(latencies) + errors) % len(targets)]
        started = time.perf_counter()
        try:
            with socket.create_connection(target, timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                reply = b""
                while chunk := conn.recv(4096):
                    reply += chunk
            if not reply.startswith(b"HTTP/1.") or b" 200 " not in reply.split(b"\r\n", 1)[0]:
                raise OSError("not a 200 reply")
            latencies.append(time.perf_counter() - started)
        except OSError:
            errors += 1
    return {"latencies": latencies, "errors": errors}


def run_row(targets: list[tuple[str, int]], seconds: float, clients: int, prefix: list[str]) -> dict:
    """``clients`` client processes at once, each started with argv ``prefix`` (to enter a namespace);
    their requests/s and latencies."""
    argv = [*prefix, sys.executable, __file__, "--client", json.dumps(targets), "--seconds", str(seconds)]
    started = time.monotonic()
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    results = [json.loads(proc.communicate(timeout=seconds + 60)[0]) for proc in procs]
    elapsed = time.monotonic() - started
    latencies = sorted(value for result in results for value in result["latencies"])
    return {"rate": len(latencies) / elapsed, "errors": sum(result["errors"] for result in results),
            "p50": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
            "p99": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")}


# -- the set-up --------------------------------------------------------------------------------------

def host_state() -> dict:
    tasks = [{"ID": f"bench-task-{i}", "Slot": i, "NodeID": "elsewhere", "Ready": True,
              "Addresses": {"ingress": address + "/24"}} for i, address in enumerate(TASKS)]
    return {"Networks": [{"ID": "ingress", "Name": "ingress", "Subnet": SUBNET, "Gateway": GATEWAY,
                          "Ingress": True, "NodeAddress": NODE_ADDRESS + "/24"}],
            "Services": [{"ID": "web", "Name": "web", "EndpointMode": "vip", "Networks": {"ingress": {"VIP": None}},
                          "Ports": [{"Protocol": "tcp", "PublishedPort": PUBLISHED, "TargetPort": 80}],
                          "Tasks": tasks}]}


def set_up() -> None:
    sh("docker", "network", "create", "--subnet", SUBNET, "--gateway", GATEWAY, NETWORK)
    bridge = "br-" + sh("docker", "network", "inspect", "-f", "{{.Id}}", NETWORK).stdout.strip()[:12]
    sh("ip", "addr", "add", NODE_ADDRESS + "/24", "dev", bridge)
    for i, address in enumerate(TASKS):
        sh("docker", "run", "-d", "--name", f"{PREFIX}-web{i}", "--network", NETWORK, "--ip", address, IMAGE,
           "sh", "-c", f"mkdir -p /www && echo task{i} > /www/index.html && exec httpd -f -p 80 -h /www")
    sh("ip", "netns", "add", CLIENT_NS)
    sh("ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", CLIENT_VETH, "netns", CLIENT_NS)
    sh("ip", "addr", "add", HOST_OUTSIDE + "/30", "dev", HOST_VETH)
    sh("ip", "link", "set", HOST_VETH, "up")
    inside = ["nsenter", f"--net=/var/run/netns/{CLIENT_NS}", "--"]
    sh(*inside, "ip", "addr", "add", CLIENT_OUTSIDE + "/30", "dev", CLIENT_VETH)
    sh(*inside, "ip", "link", "set", CLIENT_VETH, "up")
    sh(*inside, "ip", "link", "set", "lo", "up")


def tear_down() -> None:
    for i in range(len(TASKS)):
        sh("docker", "rm", "-f", f"{PREFIX}-web{i}", check=False)
    sh("docker", "network", "rm", NETWORK, check=False)
    sh("ip", "link", "del", HOST_VETH, check=False)
    sh("ip", "netns", "del", CLIENT_NS, check=False)


def wait_answering(address: str, port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while load([(address, port)], 0.01)["errors"]:
        if time.monotonic() > deadline:
            raise SystemExit(f"{address}:{port} does not answer")
        time.sleep(0.1)


# -- Docker Swarm's ingress ----------------------------------------------------------------------------

def swarm_ingress(seconds: float, clients: int) -> dict | str:
    """Swarm's ingress on a namespaced host: a row like run_row's, or why it cannot be measured."""
    state_dir = tempfile.mkdtemp(prefix=f"{PREFIX}-swarm-")
    nethosts = str(REPO / "bin" / "shoal-nethosts")
    run = [nethosts, "run", "--state-dir", state_dir, "1"]
    try:
        sh(nethosts, "up", "--count", "1", "--state-dir", state_dir, "--engines-only")
        manifest = json.loads(pathlib.Path(state_dir, "nethosts.json").read_text())
        host = manifest["hosts"][0]
        sh(*run, "docker", "swarm", "init", "--advertise-addr", host["addr"])
        sh(*run, "docker", "service", "create", "--detach", "--no-resolve-image", "--name", f"{PREFIX}-web",
           "--replicas", "2", "--publish", "8080:80", IMAGE,
           "sh", "-c", "mkdir -p /www && echo swarm > /www/index.html && exec httpd -f -p 80 -h /www")
        deadline = time.monotonic() + 60
        while "2/2" not in sh(*run, "docker", "service", "ls", "--format", "{{.Replicas}}").stdout:
            if time.monotonic() > deadline:
                return "Swarm's service did not converge within 60 s"
            time.sleep(1)
        probe = sh(*run, sys.executable, __file__, "--client", json.dumps([[host["addr"], 8080]]),
                   "--seconds", "2")
        if json.loads(probe.stdout)["latencies"]:
            return run_row([(host["addr"], 8080)], seconds, clients, run)
        log = pathlib.Path(state_dir, "h1", "docker", "dockerd.log").read_text()
        error = next((line for line in log.splitlines() if "ipvs" in line.lower()), "no IPVS line in the log")
        return f"published port 8080 refuses connections; the engine said: {error}"
    finally:
        sh(nethosts, "down", "--state-dir", state_dir, check=False)


# -- main -----------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--no-swarm", action="store_true")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(load([tuple(target) for target in json.loads(args.client)], args.seconds)))
        return
    outside = ["nsenter", f"--net=/var/run/netns/{CLIENT_NS}", "--"]
    rows = {"direct to the tasks": ([(address, 80) for address in TASKS], []),
            "mesh, 127.0.0.1": ([("127.0.0.1", PUBLISHED)], []),
            "mesh, from outside": ([(HOST_OUTSIDE, PUBLISHED)], outside)}
    results: dict[str, list[dict]] = {name: [] for name in rows}
    tear_down()
    try:
        set_up()
        # A member of the namespace like any host (/run/shoal): a host of another cluster that becomes
        # owner would otherwise take this mesh table for an abandoned one and remove it.
        plane = loadbalancer.LoadBalancer(PREFIX, "bench-node", dict)
        try:
            plane.apply(host_state())
            for address in TASKS:
                wait_answering(address, 80)
            wait_answering("127.0.0.1", PUBLISHED)
            for _ in range(args.trials):  # rows interleaved, so a change of load touches them alike
                for name, (targets, prefix) in rows.items():
                    results[name].append(run_row(targets, args.seconds, args.clients, prefix))
        finally:
            plane.stop()
    finally:
        tear_down()
    swarm = None if args.no_swarm else swarm_ingress(args.seconds, args.clients)
    print(f"{args.clients} clients, {args.seconds:g} s a trial, {args.trials} trials, a new connection per request\n")
    print("| path | requests/s (trials) | median requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, trials in results.items():
        rates = ", ".join(f"{trial['rate']:,.0f}" for trial in trials)
        print(f"| {name} | {rates} | {statistics.median(t['rate'] for t in trials):,.0f} | "
              f"{statistics.median(t['p50'] for t in trials):.2f} | {statistics.median(t['p99'] for t in trials):.2f} | "
              f"{sum(t['errors'] for t in trials)} |")
    if isinstance(swarm, dict):
        print(f"| Docker Swarm ingress | {swarm['rate']:,.0f} | {swarm['rate']:,.0f} | {swarm['p50']:.2f} | "
              f"{swarm['p99']:.2f} | {swarm['errors']} |")
    elif swarm:
        print(f"\nDocker Swarm ingress: {swarm}")
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
