"""Simulated Raft clusters under chaos: seeded, deterministic, checked after every step.

Each seed runs a cluster through message loss, duplication and reordering,
partitions, crash-restarts (a crashed member keeps only what it persisted),
compaction and snapshots, leadership transfers, read-index reads and (in
some runs) membership changes; after every step the checker asserts election
safety (one leader per term), log matching, leader completeness, state
machine safety and that reads see every earlier commit. Then the network
heals and the cluster must commit and apply a new entry everywhere.

RAFT_SIM_SEEDS=n sets how many seeds each scenario runs (default 1000, so CI
runs 3,000 seeds of 3,000 steps each, spread over one process per core;
set it lower while iterating); RAFT_SIM_SEED=n runs only that seed
(a failure prints the command to reproduce it); RAFT_SIM_STEPS=n sets the
steps per run; RAFT_SIM_WORKERS=n the processes (default: one per core).
"""

import multiprocessing
import os

import pytest

from tests.unit.raftsim import run_seed, run_simulation

STEPS = int(os.environ.get("RAFT_SIM_STEPS", "3000"))
if "RAFT_SIM_SEED" in os.environ:
    SEEDS = [int(os.environ["RAFT_SIM_SEED"])]
else:
    SEEDS = list(range(int(os.environ.get("RAFT_SIM_SEEDS", "1000"))))
WORKERS = min(len(SEEDS), int(os.environ.get("RAFT_SIM_WORKERS", os.cpu_count() or 1)))


def run_seeds(name: str, **scenario) -> list[dict]:
    """Every seed's counters, in seed order; fails the test at the first seed (in that order) that broke
    a property. The seeds are independent runs, so they are shared out among WORKERS processes."""
    jobs = [(seed, STEPS, scenario) for seed in SEEDS]
    if WORKERS > 1:
        with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
            outcomes = pool.map(run_seed, jobs, chunksize=max(1, len(jobs) // (WORKERS * 8)))
    else:
        outcomes = map(run_seed, jobs)
    results = []
    for seed, (result, error) in zip(SEEDS, outcomes):
        if error is not None:
            pytest.fail(f"{name} failed for seed {seed}: {error}\n"
                        f"reproduce: RAFT_SIM_SEED={seed} python -m pytest {__file__} -k {name}")
        results.append(result)
    return results


def test_simulated_3_member_cluster_stays_safe_under_chaos():
    results = run_seeds("test_simulated_3_member_cluster_stays_safe_under_chaos", size=3)
    assert sum(result["committed"] for result in results) > 10 * len(results)
    assert sum(result["crashes"] for result in results) > 0


def test_simulated_5_member_cluster_stays_safe_under_chaos():
    results = run_seeds("test_simulated_5_member_cluster_stays_safe_under_chaos", size=5)
    assert sum(result["committed"] for result in results) > 5 * len(results)


def test_simulated_membership_changes_stay_safe_under_chaos():
    results = run_seeds("test_simulated_membership_changes_stay_safe_under_chaos", size=3, membership_changes=True)
    assert sum(result["conf_changes"] for result in results) > 0
    assert sum(result["snapshots_sent"] for result in results) > 0


def test_simulated_runs_are_reproducible_from_their_seed():
    assert run_simulation(12345, steps=500) == run_simulation(12345, steps=500)
