"""Shoal's Raft beside etcd and PySyncObj, measured in the same run on this machine.

Shoal: 3 raft member processes on loopback (fsync on: SQLite WAL, synchronous=FULL),
driven over their CURVE ZeroMQ API with small proposals (a one-field patch):

- single client: sequential proposals to the leader for 5 s (at most 20,000): writes/s, p50/p99;
- many clients: 64 concurrent clients (one socket each) for 5 s (at most 200,000 ops): committed/s, and the
  CPU time the leader and each follower used per committed write (from /proc);
- failover: kill -9 of the leader until the next write is acknowledged by a survivor
  (a write tried every 10 ms), over N trials (20 by default); the member is restarted and
  caught up before the next trial.

The peers come from benchmarks/raft_peers.py (etcd 3.4 over its HTTP gateway, PySyncObj 0.3.17).
Only loopback addresses are used; every loop is bounded in count and time.

    python3 benchmarks/raft.py [--trials 20] [--runs 1] [--skip-peers] [--write docs/benchmarks.md]

With ``--runs N`` Shoal's single-client and many-client measurements are taken N times on the same
cluster and the median of each figure is reported (each run is printed): on a loaded machine one
run says little.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import signal
import statistics
import sys
import tempfile
import time

import zmq.asyncio

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.common.storeclient import StoreError  # noqa: E402
from actors.raft.member import ELECTION_TICKS, TICK_SECONDS  # noqa: E402
from benchmarks import raft_peers  # noqa: E402
from benchmarks.raft_peers import percentile  # noqa: E402
from benchmarks.report import replace_section  # noqa: E402
from tests.integration.cluster import wait_until  # noqa: E402
from tests.integration.raftmembers import connect, leader_of, make_members, record, start, status  # noqa: E402

WINDOW_SECONDS = 5.0
SINGLE_MAX_OPS = 20_000
MANY_CLIENTS = 64
MANY_MAX_OPS = 200_000
RETRY_SECONDS = 0.01
FAILOVER_GIVE_UP = 15.0
MARKER = "<!-- raft-benchmark -->"
# etcd runs with Shoal's Raft timings (heartbeat one tick, election timeout ELECTION_TICKS ticks, both
# randomised up to twice that), so that the failover times compare the implementations, not the settings.
SHOAL_TIMING_MS = (round(1000 * TICK_SECONDS), round(1000 * ELECTION_TICKS * TICK_SECONDS))
NOTE = ("\n\nRatios are Shoal's value divided by etcd's: above 1 is better for writes/s, below 1 is better for "
        "latency and failover. etcd runs with Shoal's Raft timings (heartbeat 30 ms, election timeout 300 ms, both "
        "randomised as in Shoal) and fsyncs its WAL; it is driven over its HTTP gateway by 64 asyncio clients. "
        "PySyncObj keeps its log in memory (no fsync) and its commands are issued in the leader's own process. "
        "Shoal's leader puts the proposals that reach it together into one entry (actors/raft/proposals.py) and "
        "fsyncs once per Ready, so 64 clients cost one log row and one append per burst; what is left is per "
        "request and in Python: receiving and answering it, validating and applying its batch (about 0.4 ms of the "
        "leader's CPU per committed write with 64 clients), with the 3 members and the clients sharing 2 cores. "
        "The goals of 15,000 writes/s and p50 < 1.5 ms are not met."
        "\n\n"
        "One write's path, traced with timestamps (client, RpcServer, core, append and fsync, followers, "
        'acknowledgement, commit, apply, reply): one fsync is on it (a SQLite WAL commit, two pages and one '
        'fdatasync, 0.7 to 4 ms on this machine as measured with strace and alone, more under load), the '
        "leader's in parallel with its followers' since it sends its appends first; no timer or sleep; about "
        "four passes of the leader's event loop, one of each follower's and four of the client's. The "
        "leader's loop is held by its own fsync, so an acknowledgement that arrives meanwhile waits for it. "
        "Every member applies and answers what is committed before it writes the Ready (it is on a majority's"
        ' disks already), so neither the write of the new commit index nor, with many clients, the fsync of '
        'the next batch delays an answer.')


def write_op(key: str, value: int) -> list[dict]:
    """A small proposal: set one field of one object."""
    return [{"op": "patch", "table": "tasks", "id": key, "set": {"V": value}}]


async def prepare(config) -> None:
    """Create the objects the measurements write (on the cluster of ``config``'s member)."""
    keys = ["single"] + [f"many{number}" for number in range(MANY_CLIENTS)]
    context = zmq.asyncio.Context()
    try:
        await connect(context, config).propose(
            [{"op": "create", "table": "tasks", "object": record(key, V=0)} for key in keys], timeout=10)
    finally:
        context.destroy(linger=0)


async def single_client(config) -> dict:
    """Sequential proposals through one socket to the leader."""
    context = zmq.asyncio.Context()
    try:
        client = connect(context, config)
        latencies = []
        deadline = time.monotonic() + WINDOW_SECONDS
        while time.monotonic() < deadline and len(latencies) < SINGLE_MAX_OPS:
            started = time.perf_counter()
            await client.propose(write_op("single", len(latencies)), timeout=5)
            latencies.append(time.perf_counter() - started)
        elapsed = WINDOW_SECONDS if len(latencies) < SINGLE_MAX_OPS else sum(latencies)
        return {"writes_per_s": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(latencies),
                "p99_ms": 1000 * percentile(latencies, 99)}
    finally:
        context.destroy(linger=0)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used, from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def many_clients(config) -> dict:
    """MANY_CLIENTS concurrent sequential clients, each with its own socket, all to the leader."""
    context = zmq.asyncio.Context()
    try:
        clients = [connect(context, config) for _ in range(MANY_CLIENTS)]
        done = [0]
        deadline = time.monotonic() + WINDOW_SECONDS

        async def loop(number, client):
            while time.monotonic() < deadline and done[0] < MANY_MAX_OPS:
                await client.propose(write_op(f"many{number}", done[0]), timeout=10)
                done[0] += 1

        started = time.monotonic()
        await asyncio.gather(*(loop(number, client) for number, client in enumerate(clients)))
        return {"clients": MANY_CLIENTS, "writes": done[0], "writes_per_s": done[0] / (time.monotonic() - started)}
    finally:
        context.destroy(linger=0)


async def first_acknowledged_write(survivors, killed_at: float) -> float:
    """Seconds from ``killed_at`` until a write through any survivor is acknowledged."""
    context = zmq.asyncio.Context()
    try:
        clients = [connect(context, config) for config in survivors]
        attempt = 0
        while time.monotonic() - killed_at < FAILOVER_GIVE_UP:
            client = clients[attempt % len(clients)]
            attempt += 1
            try:
                await client.propose(write_op("single", attempt), timeout=0.5)
                return time.monotonic() - killed_at
            except StoreError:
                await asyncio.sleep(RETRY_SECONDS)
        raise RuntimeError(f"no write acknowledged within {FAILOVER_GIVE_UP}s of the kill")
    finally:
        context.destroy(linger=0)


def failover_trials(configs, processes, trials: int) -> list[float]:
    """kill -9 the leader ``trials`` times; the time to the next acknowledged write each time."""
    results = []
    for trial in range(trials):
        leader = wait_until(lambda: leader_of(configs), 20, what="a leader")
        survivors = [config for config in configs if config is not leader]
        processes[leader.node_id].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        processes[leader.node_id].wait()
        results.append(asyncio.run(first_acknowledged_write(survivors, killed_at)))
        processes[leader.node_id] = start(leader)
        wait_until(lambda: (s := status(leader)) and s["applied"] >= max(status(c)["commit"] for c in survivors), 30,
                   what="the restarted member to catch up")
        print(f"  failover trial {trial + 1}/{trials}: {results[-1]:.3f}s", flush=True)
    return results


def measure_writes(leader, processes) -> tuple[dict, dict]:
    """One single-client and one many-client measurement through ``leader``: their results, the latter
    with the CPU time the leader and (on average) each follower used per committed write."""
    single = asyncio.run(single_client(leader))
    print(f"  single client: {single['writes_per_s']:.0f}/s, p50 {single['p50_ms']:.2f} ms", flush=True)
    before = {node_id: cpu_seconds(process.pid) for node_id, process in processes.items()}
    many = asyncio.run(many_clients(leader))
    # What each write cost the members in CPU: unlike writes/s, barely moved by the machine's other load.
    used = {node_id: cpu_seconds(process.pid) - before[node_id] for node_id, process in processes.items()}
    many["leader_cpu_ms"] = 1000 * used.pop(leader.node_id) / many["writes"]
    many["follower_cpu_ms"] = 1000 * statistics.mean(used.values()) / many["writes"]
    print(f"  {MANY_CLIENTS} clients: {many['writes_per_s']:.0f}/s, CPU per write: leader "
          f"{many['leader_cpu_ms']:.3f} ms, follower {many['follower_cpu_ms']:.3f} ms", flush=True)
    return single, many


def medians(results: list[dict]) -> dict:
    """Each field's median over ``results`` (dicts with the same keys)."""
    return {key: statistics.median(result[key] for result in results) for key in results[0]}


def bench_shoal(trials: int, runs: int = 1) -> dict:
    """Run the write measurements ``runs`` times (medians reported) and the failover trials on a fresh
    3-member cluster; returns the results."""
    with tempfile.TemporaryDirectory(prefix="shoal-raft-bench-") as root:
        configs = make_members(pathlib.Path(root))
        processes = {config.node_id: start(config) for config in configs}
        try:
            leader = wait_until(lambda: leader_of(configs), 20, what="a leader")
            time.sleep(1.0)  # let the bootstrap entries commit everywhere
            asyncio.run(prepare(leader))
            measured = [measure_writes(leader, processes) for _ in range(runs)]
            single, many = medians([run[0] for run in measured]), medians([run[1] for run in measured])
            failover = failover_trials(configs, processes, trials)
        finally:
            for process in processes.values():
                process.kill()
                process.wait()
    return {"single_client": single, "many_clients": many, "failover_s": failover}


def failover_summary(values: list[float]) -> str:
    """``p50 / p99 / max`` of a list of seconds."""
    return f"{statistics.median(values):.2f} / {percentile(values, 99):.2f} / {max(values):.2f} s"


def table(shoal: dict, peers: dict, trials: int) -> str:
    """The results as a Markdown table, Shoal beside each peer, with ratios."""
    etcd, pso = peers.get("etcd"), peers.get("pysyncobj")
    rows = ["| Measurement | Shoal (fsync) | etcd 3.4 (fsync) | PySyncObj (no fsync) | Shoal / etcd | Goal |",
            "|---|---|---|---|---|---|"]
    single, many = shoal["single_client"], shoal["many_clients"]
    e_single = etcd and etcd["single_client"]
    rows.append(f"| 1 client, writes/s | {single['writes_per_s']:.0f} | {e_single['writes_per_s']:.0f} | – | "
                f"{single['writes_per_s'] / e_single['writes_per_s']:.2f}x | – |" if etcd else
                f"| 1 client, writes/s | {single['writes_per_s']:.0f} | – | – | – | – |")
    rows.append(f"| 1 client, p50 / p99 latency | {single['p50_ms']:.2f} / {single['p99_ms']:.2f} ms | "
                + (f"{e_single['p50_ms']:.2f} / {e_single['p99_ms']:.2f} ms | – | "
                   f"{single['p50_ms'] / e_single['p50_ms']:.2f}x | p50 < 1.5 ms |" if etcd else "– | – | – | p50 < 1.5 ms |"))
    e_many = etcd and etcd.get("clients_64")
    pso_rate = pso and pso.get("nonblocking_commits_per_s")
    rows.append(f"| {many['clients']} clients, committed/s | {many['writes_per_s']:.0f} | "
                + (f"{e_many['writes_per_s']:.0f}" if etcd else "–") + " | "
                + (f"{pso_rate:.0f} (non-blocking)" if pso_rate else "–") + " | "
                + (f"{many['writes_per_s'] / e_many['writes_per_s']:.2f}x" if etcd else "–") + " | ≥ 15,000 |")
    rows.append(f"| {many['clients']} clients, members' CPU per committed write (leader / each follower) | "
                f"{many['leader_cpu_ms']:.2f} / {many['follower_cpu_ms']:.2f} ms | – | – | – | – |")
    rows.append(f"| Leader kill -9 → next acknowledged write, p50 / p99 / max ({trials} trials) | "
                f"{failover_summary(shoal['failover_s'])} | "
                + (f"{failover_summary(etcd['failover_s'])}" if etcd else "–") + " | – | "
                + (f"{percentile(shoal['failover_s'], 99) / percentile(etcd['failover_s'], 99):.2f}x (p99)" if etcd else "–")
                + " | p99 < 1 s |")
    return "\n".join(rows)


def save(path: pathlib.Path, text: str) -> None:
    """Replace the Raft section of ``path`` (from MARKER) with ``text``."""
    replace_section(path, MARKER, f"{MARKER}\n{text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="failover trials (20)")
    parser.add_argument("--runs", type=int, default=1, help="Shoal's write measurements, medians of this many runs (1)")
    parser.add_argument("--skip-peers", action="store_true", help="measure Shoal only")
    parser.add_argument("--write", metavar="PATH", help="replace the Raft section of this Markdown file")
    args = parser.parse_args()
    if args.trials < 1 or args.runs < 1:
        parser.error("--trials and --runs must be at least 1")
    load = os.getloadavg()[0]
    peers = {}
    if not args.skip_peers:
        print("etcd ...", flush=True)
        peers["etcd"] = raft_peers.bench_etcd(args.trials, SHOAL_TIMING_MS)
        print("PySyncObj ...", flush=True)
        try:
            peers["pysyncobj"] = raft_peers.bench_pysyncobj()
        except raft_peers.PySyncObjError as exc:  # its own election can fail on a loaded machine: report without it
            print(f"  PySyncObj not measured: {exc}", flush=True)
    print("Shoal ...", flush=True)
    shoal = bench_shoal(args.trials, args.runs)
    text = (f"## Raft: Shoal beside etcd and PySyncObj\n\nMeasured {time.strftime('%Y-%m-%d')} on this machine, "
            f"same run, 3 members each on loopback (`python3 benchmarks/raft.py --trials {args.trials} --runs {args.runs}`), "
            f"Shoal's write figures the medians of {args.runs} run(s), load average "
            f"{load:.1f} when it started (the machine's other work slows both sides).\n\n"
            + table(shoal, peers, args.trials) + NOTE)
    print("\n" + text)
    if args.write:
        save(pathlib.Path(args.write), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
