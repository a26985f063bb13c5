#!/usr/bin/env python3
"""A 100 MB store on a real cluster: does every door still work, and does the Raft loop stall?

Builds the store through real proposals (services of ~0.75 MB of labels each,
one per proposal, replicas 0), then times: ``shoal service ls``, ``node ls``
and ``service ps``; one batch whose changes are larger than a message; a view
loaded from scratch (the control API killed and restarted until ``service ls``
answers); compaction into a snapshot file; a second manager joining and
catching up until its own ``service ls`` lists everything. Reports the
longest stall of each Raft member's event loop
(``shoal_raft_loop_stall_max_seconds``) against the election timeout. Prints
a Markdown table and writes it to docs/benchmark-large-store.md.

    python3 benchmarks/large_store.py [--megabytes 100] [--keep DIR]

Everything runs on loopback and on the local engine; every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.raft.member import ELECTION_TICKS, TICK_SECONDS  # noqa: E402
from tests.integration import largestore  # noqa: E402
from tests.integration.cluster import Cluster, wait_until  # noqa: E402

RESULTS = REPO / "docs" / "benchmark-large-store.md"
WAIT_SECONDS = 600


def measure(megabytes: int, root: pathlib.Path) -> list[tuple[str, str]]:
    """Run every step on a fresh cluster under ``root``; ``(measurement, value)`` rows."""
    os.environ["SHOAL_RAFT_SNAPSHOT_EVERY"] = "50"
    cluster = Cluster(root)
    rows = []
    try:
        manager = cluster.init_manager()
        ids, seconds = largestore.timed(lambda: largestore.fill(manager, megabytes))
        size = len(ids) * largestore.SERVICE_BYTES
        rows.append((f"fill: {len(ids)} services, {size / 1e6:.0f} MB of objects", f"{seconds:.1f} s"))
        expected = len(ids) + 1
        count, seconds = largestore.timed(lambda: largestore.service_count(manager))
        assert count == expected, (count, expected)
        rows.append(("`shoal service ls`", f"{seconds:.2f} s"))
        _, seconds = largestore.timed(lambda: manager.shoal("node", "ls"))
        rows.append(("`shoal node ls`", f"{seconds:.2f} s"))
        _, seconds = largestore.timed(lambda: manager.shoal("service", "ps", ids[0][:12]))
        rows.append(("`shoal service ps`", f"{seconds:.2f} s"))
        _, seconds = largestore.timed(lambda: largestore.touch_more_than_a_message(manager, ids))
        rows.append(("one batch of changes larger than a message, committed", f"{seconds:.2f} s"))
        largestore.restart_actor(manager, "controlapi")
        _, seconds = largestore.timed(lambda: wait_until(
            lambda: largestore.service_count(manager) == expected, WAIT_SECONDS, interval=0.2, what="service ls"))
        rows.append(("control API killed: new view loaded and `service ls` answers", f"{seconds:.1f} s"))
        snapshot = wait_until(lambda: largestore.snapshot_bytes(manager) > 0.9 * size and
                              largestore.snapshot_bytes(manager), WAIT_SECONDS, what="a snapshot of the whole store")
        rows.append(("snapshot file (compaction)", f"{snapshot / 1e6:.0f} MB"))
        follower, seconds = largestore.timed(lambda: cluster.join("manager2", "manager"))
        _, more = largestore.timed(lambda: wait_until(
            lambda: largestore.service_count(follower) == expected, WAIT_SECONDS, interval=0.5,
            what="the new manager's service ls"))
        rows.append(("second manager: join, catch up, its `service ls` answers", f"{seconds + more:.1f} s"))
        term = largestore.metric(manager, "raft", "shoal_raft_term")
        rows.append(("Raft term at the end (1: no election happened)", f"{term:.0f}"))
        timeout = ELECTION_TICKS * TICK_SECONDS
        for name, host in (("leader", manager), ("new manager", follower)):
            for what, metric in (("", "shoal_raft_loop_stall_max_seconds"),
                                 (": CPU time of its thread within one stall", "shoal_raft_loop_stall_cpu_max_seconds")):
                stall = largestore.metric(host, "raft", metric)
                verdict = "under" if stall < timeout else "OVER"
                rows.append((f"longest Raft loop stall, {name}{what}",
                             f"{stall * 1000:.0f} ms ({verdict} the {timeout:g} s election timeout)"))
    finally:
        cluster.teardown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--keep", type=pathlib.Path, help="state directories (and logs) here, kept afterwards")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if args.keep:
        args.keep.mkdir(parents=True)
        rows = measure(args.megabytes, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="shoal-large-") as root:
            rows = measure(args.megabytes, pathlib.Path(root))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        f"# A {args.megabytes} MB store", "",
        f"Measured {when} on this 2-core machine (load average {load:.1f} at the start: shared with other "
        "work), one manager then a second, by "
        f"`python3 benchmarks/large_store.py --megabytes {args.megabytes}`. No message carries the whole "
        "store: snapshots and lists are streamed in parts of at most 1 MiB, large batches are published in "
        "parts, compaction and snapshot installation run in slices and threads (docs/architecture.md). "
        "A stall is the time the member's event loop ran nothing else; on a machine busy with other work "
        "it includes time spent waiting for a CPU, which the CPU time of the loop's thread leaves out.", "",
        "| measurement | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows), ""])
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
