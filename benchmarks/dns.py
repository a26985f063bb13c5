#!/usr/bin/env python3
"""The host DNS server's cost: queries answered per second and latency (p50, p99) over UDP from one
client asking one query at a time, and the time to index a host network state (the server rebuilds
its names on every state it is told of), for a few state sizes.

    python3 benchmarks/dns.py [--queries 20000] [--seconds 20] [--trials 3]

The server runs in a process of its own on 127.77.0.1 (loopback), the client in this one; every loop
is bounded in count and time. Prints a Markdown table and the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pathlib
import socket
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dnslib import DNSRecord  # noqa: E402

from actors.network import dns, dnsserver  # noqa: E402
from tests.integration.cluster import free_base_port  # noqa: E402

SERVER = "127.77.0.1"
CLIENT = "127.77.0.10"


def host_state(services: int, tasks_each: int) -> dict:
    """A host network state on 127.77.0.0/16 with ``services`` dnsrr services of ``tasks_each`` Ready
    tasks each, and the querying client as a task of the first."""
    network = {"ID": "net", "Name": "bench", "Subnet": "127.77.0.0/16", "NodeAddress": SERVER + "/16",
               "Ingress": False}
    rows = []
    for index in range(services):
        tasks = [{"ID": f"t{index}.{slot}", "Slot": slot, "Ready": True,
                  "Addresses": {"net": f"127.77.{1 + (index * tasks_each + slot) // 250}.{(index * tasks_each + slot) % 250 + 1}"}}
                 for slot in range(tasks_each)]
        rows.append({"ID": f"s{index}", "Name": f"svc{index}", "EndpointMode": "dnsrr",
                     "Networks": {"net": {"Aliases": [], "VIP": None}}, "Tasks": tasks})
    rows[0]["Tasks"].append({"ID": "client", "Slot": 99, "Ready": False, "Addresses": {"net": CLIENT}})
    return {"Networks": [network], "Services": rows}


def serve(port: int, ready, stop) -> None:
    server = dnsserver.DnsServer(port=port)
    server.start()
    server.apply(host_state(100, 10))
    ready.set()
    stop.wait(600)
    server.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def query_trial(port: int, queries: int, seconds: float) -> tuple[float, float, float]:
    """Queries per second, p50 and p99 latency in ms, asking svc7 (10 addresses) one at a time."""
    packet = DNSRecord.question("svc7").pack()
    latencies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((CLIENT, 0))
        sock.settimeout(2)
        start = time.perf_counter()
        while len(latencies) < queries and time.perf_counter() - start < seconds:
            sent = time.perf_counter()
            sock.sendto(packet, (SERVER, port))
            reply = DNSRecord.parse(sock.recv(4096))
            latencies.append(time.perf_counter() - sent)
            assert len(reply.rr) == 10, reply
        elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


def index_seconds(services: int, tasks_each: int) -> float:
    state = host_state(services, tasks_each)
    start = time.perf_counter()
    dns.Directory(state)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    port = free_base_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    child = multiprocessing.Process(target=serve, args=(port, ready, stop))
    child.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the DNS server did not start")
        print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
        print("| trial | queries/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |")
        for trial in range(1, args.trials + 1):
            rate, p50, p99 = query_trial(port, args.queries, args.seconds)
            print(f"| {trial} | {rate:,.0f} | {p50:.3f} | {p99:.3f} |")
    finally:
        stop.set()
        child.join(30)
    print("\n| services x tasks | index ms (best of trials) |\n| --- | --- |")
    for services, tasks_each in ((10, 10), (100, 10), (1000, 10)):
        best = min(index_seconds(services, tasks_each) for _ in range(args.trials))
        print(f"| {services} x {tasks_each} | {best * 1000:.1f} |")
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
