"""Simulated Raft clusters under chaos: seeded, deterministic, checked after every step.

Each seed runs a cluster through message loss, duplication and reordering,
partitions, crash-restarts (a crashed member keeps only what it persisted),
compaction and snapshots, leadership transfers, read-index reads and (in
some runs) membership changes; after every step the checker asserts election
safety (one leader per term), log matching, leader completeness, state
machine safety and that reads see every earlier commit. Then the network
heals and the cluster must commit and apply a new entry everywhere.

RAFT_SIM_SEEDS=n sets how many seeds each scenario runs (default 1000, so CI
runs 3,000 seeds of 3,000 steps each, about 3.5 minutes on two cores; set it
lower while iterating); RAFT_SIM_SEED=n runs only that seed
(a failure prints the command to reproduce it); RAFT_SIM_STEPS=n sets the
steps per run.
"""

import os

import pytest

from tests.unit.raftsim import run_simulation

STEPS = int(os.environ.get("RAFT_SIM_STEPS", "3000"))
if "RAFT_SIM_SEED" in os.environ:
    SEEDS = [int(os.environ["RAFT_SIM_SEED"])]
else:
    SEEDS = list(range(int(os.environ.get("RAFT_SIM_SEEDS", "1000"))))


def run_seeds(name: str, **scenario) -> list[dict]:
    results = []
    for seed in SEEDS:
        try:
            results.append(run_simulation(seed, steps=STEPS, **scenario))
        except AssertionError as error:
            pytest.fail(f"{name} failed for seed {seed}: {error}\n"
                        f"reproduce: RAFT_SIM_SEED={seed} python -m pytest {__file__} -k {name}")
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
