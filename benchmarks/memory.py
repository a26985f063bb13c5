#!/usr/bin/env python3
"""Memory: what each process of one manager holds at 10k / 50k / 100k tasks, and why.

Starts a one-manager cluster, creates one service whose constraint no node
meets (``node.labels.h4mem==yes``), and waits until its first task is
pending. The orchestrator, at tens of tasks a second on this machine, would
take an hour to create 100k tasks, so the benchmark writes them itself: it
pauses the orchestrator (SIGSTOP), sets the service's replicas to the size,
proposes copies of the first task (fresh IDs, slots 2..N, each encoded on
its own, as the orchestrator writes them) through the store API in
proposals of BATCH tasks, and resumes the orchestrator (SIGCONT), which then
finds every slot filled; the scheduler finds every task pending with its
message already said. Every actor holds the tasks as it would have.

At each size (cumulative: 10k, then 40k more, ...) it reports, once the
RSS of every process has settled, the resident memory (VmRSS) of each
process of the manager, and, measured in this process with tracemalloc,
what one StoreView loaded from the manager's snapshot holds per task
(tables, task index, shared parts), and which top-level fields of a task
take its bytes when decoded.

    python3 benchmarks/memory.py [--sizes 10000,50000,100000] [--no-write]

Everything runs on loopback; the service's tasks never reach a node.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.common import records  # noqa: E402
from actors.common.view import StoreView  # noqa: E402
from benchmarks.report import replace_section  # noqa: E402
from tests.integration.cluster import IMAGE, Cluster, Host, wait_until  # noqa: E402
from tests.integration.largestore import store_client_run  # noqa: E402
from transport import codec, schema  # noqa: E402

RESULTS = REPO / "docs" / "benchmarks.md"
HEADING = "## Memory"
SERVICE = "h4mem"
BATCH = 400  # tasks per proposal (about 0.25 MiB, under the 1 MiB of an entry)
SETTLE_SECONDS = 5.0
ACTORS = ("raft", "controlapi", "orchestrator", "allocator", "scheduler", "dispatcher", "executor")


def actor_pids(host: Host) -> dict[str, int]:
    """Actor name (or ``shoald``) -> pid, for the processes of ``host``."""
    found = {}
    for pid in host.pids():
        try:
            argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        name = next((arg for arg in argv if arg in ACTORS), None)
        if name is None and any(arg.endswith("shoald") for arg in argv):
            name = "shoald"
        if name:
            found[name] = pid
    return found


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` in MiB (0 if it ended)."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def snapshot(host: Host) -> dict:
    """The manager's store, read as a view reads it (records streamed in parts)."""
    return store_client_run(host, lambda client: client.snapshot(timeout=60))


def propose_all(host: Host, ops: list[dict]) -> None:
    """Propose ``ops`` in order, BATCH to a proposal."""
    async def propose(client):
        for start in range(0, len(ops), BATCH):
            await client.propose(ops[start:start + BATCH], timeout=60)
    store_client_run(host, propose)


def grow(host: Host, pids: dict[str, int], have: int, size: int) -> None:
    """Bring the service from ``have`` to ``size`` tasks, written as the orchestrator would write them."""
    store = snapshot(host)["tables"]
    service = next(s for s in store["services"].values() if s["Spec"]["Name"] == SERVICE)
    template = {key: value for key, value in min(store["tasks"].values(), key=lambda task: task["Slot"]).items()
                if key != "Version"}
    os.kill(pids["orchestrator"], signal.SIGSTOP)
    try:
        ops = [{"op": "patch", "table": "services", "id": service["ID"], "version": schema.version_of(service),
                "set": {"Spec.Mode.Replicated.Replicas": size}}]
        ops += [{"op": "create", "table": "tasks", "object": {**template, "ID": schema.new_id(), "Slot": slot}}
                for slot in range(have + 1, size + 1)]
        propose_all(host, ops)
    finally:
        os.kill(pids["orchestrator"], signal.SIGCONT)


def settled(host: Host, pids: dict[str, int], size: int, timeout: float) -> dict[str, float]:
    """Wait until the store holds ``size`` tasks and every process's RSS stays put for SETTLE_SECONDS;
    the RSS (MiB) of each process then."""
    wait_until(lambda: len(snapshot(host)["tables"].get("tasks", {})) == size, timeout, interval=2,
               what=f"{size} tasks in the store")
    deadline = time.monotonic() + timeout
    last = {name: rss_mib(pid) for name, pid in pids.items()}
    while time.monotonic() < deadline:
        time.sleep(SETTLE_SECONDS)
        now = {name: rss_mib(pid) for name, pid in pids.items()}
        if all(abs(now[name] - last[name]) < 2 for name in now):
            return now
        last = now
    return last


def traced(build) -> tuple[object, int]:
    """``build()``'s result and the bytes it left allocated (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return result, after - before


def view_breakdown(host: Host) -> dict[str, float]:
    """Bytes per task of one view loaded from the manager's snapshot as an actor's view loads it (tables,
    task index, shared parts), and the decoded bytes of a task's largest top-level fields."""
    encoded = [codec.encode(record) for record in records.records(snapshot(host))]
    view, view_bytes = traced(lambda: _view_of([codec.decode(record) for record in encoded]))
    tasks = list(view.table("tasks").values())
    sample = tasks[:1000]
    fields = {field: traced(lambda: codec.decode(codec.encode([{field: task.get(field)} for task in sample])))[1]
              / len(sample) for field in sample[0]}
    largest = dict(sorted(fields.items(), key=lambda item: -item[1])[:5])
    return {"view, bytes per task": view_bytes / max(1, len(tasks)), "encoded task, bytes": len(codec.encode(sample[0])),
            **{f"{field} (decoded bytes)": size for field, size in largest.items()}}


def _view_of(items: list) -> StoreView:
    view = StoreView(None, None)  # no actor, no sockets: only what it holds
    view.load(records.snapshot_of(items))
    return view


def measure(sizes: list[int], timeout: float) -> list[dict]:
    """One row per size (and one at no task): RSS of each process and the view's bytes per task."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="h4mem") as root:
        cluster = Cluster(pathlib.Path(root))
        try:
            host = cluster.init_manager()
            pids = actor_pids(host)
            rows.append({"tasks": 0, "load": os.getloadavg()[0], **settled(host, pids, 0, timeout)})
            print(rows[-1], flush=True)
            host.shoal("service", "create", "-d", "--name", SERVICE, "--replicas", "1", "--constraint",
                       "node.labels.h4mem==yes", IMAGE, "sleep", "1")
            wait_until(lambda: any(t["Status"]["State"] == "pending" and t["Status"].get("Err")
                                   for t in snapshot(host)["tables"].get("tasks", {}).values()),
                       timeout, interval=1, what="the first task pending")
            have = 1
            for size in sizes:
                grow(host, pids, have, size)
                have = size
                rows.append({"tasks": size, "load": os.getloadavg()[0], **settled(host, pids, size, timeout),
                             **view_breakdown(host)})
                print(rows[-1], flush=True)
        finally:
            cluster.teardown()
    return rows


def table(rows: list[dict]) -> str:
    """The Markdown table of ``rows``: MiB per process, their sum, and per-task figures."""
    names = [name for name in ("shoald", *ACTORS) if name in rows[0]]
    lines = ["| tasks | " + " | ".join(names) + " | all (MiB) | all, per task (KiB) | one view, per task (B) "
             "| load avg |", "|" + "---|" * (len(names) + 5)]
    base = sum(rows[0][name] for name in names)
    for row in rows:
        total = sum(row[name] for name in names)
        per_task = f"{(total - base) * 1024 / row['tasks']:.1f}" if row["tasks"] else ""
        per_view = f"{row['view, bytes per task']:.0f}" if row["tasks"] else ""
        lines.append(f"| {row['tasks']:,} | " + " | ".join(f"{row[name]:.0f}" for name in names)
                     + f" | {total:.0f} | {per_task} | {per_view} | {row['load']:.1f} |")
    fields = ", ".join(f"{key.split(' ')[0]} {value:.0f}" for key, value in rows[-1].items() if "decoded" in key)
    lines.append("")
    lines.append(f"A task encodes to {rows[-1].get('encoded task, bytes', 0):.0f} bytes; decoded, its largest "
                 f"fields take (bytes, each alone in a one-field dict): {fields}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,100000", help="task counts, increasing (default 10k,50k,100k)")
    parser.add_argument("--timeout", type=float, default=600.0, help="bound of every wait, seconds")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if sizes != sorted(set(sizes)) or sizes[0] < 2:
        sys.exit("--sizes must be increasing counts of at least 2")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # tear the cluster down on the way out
    body = table(measure(sizes, args.timeout))
    print(body)
    if not args.no_write:
        command = " ".join(["python3 benchmarks/memory.py", *sys.argv[1:]])
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
        replace_section(RESULTS, HEADING, f"{HEADING}\n\n`{command}` at commit {commit}, "
                        f"{datetime.date.today().isoformat()}: one manager; RSS of each process (MiB) once all "
                        f"settled; one view's bytes per task measured with tracemalloc in the benchmark's own "
                        f"process.\n\n{body}\n")


if __name__ == "__main__":
    main()
