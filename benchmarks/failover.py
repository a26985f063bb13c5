#!/usr/bin/env python3
"""Failover of work: kill -9 the Raft leader's manager host, time until the cluster takes writes and until
a service has converged again.

Three manager hosts and one worker host on loopback, all real processes on the local Docker engine, and a
service of ``--replicas`` replicas spread over the four nodes. Each trial:

1. the leader's host must run some of the service's tasks (if not, the service is scaled to 0 and back,
   which spreads them over every node) and the service must be converged;
2. every process of the leader's host gets SIGKILL (its containers keep running in the shared engine, as
   a real host's would be cut off with it);
3. *next acknowledged write*: from the kill until a survivor's control API acknowledges a write (scaling
   a probe service of 0 replicas to 0), retried every 20 ms;
4. *converged*: from the kill until ``service ps`` on a survivor shows every replica running, none on the
   dead node (what a user sees);
5. the dead host is started again and the cluster settles before the next trial.

Prints p50/p99/max of both over ``--trials`` trials and writes them to docs/benchmarks.md, section
"Failover of work".

    python3 benchmarks/failover.py [--trials 5] [--replicas 8]

Everything runs on loopback and on the local engine; every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.cli.client import CliError, ControlClient  # noqa: E402
from benchmarks.report import replace_section  # noqa: E402
from transport import schema  # noqa: E402
from tests.integration.cluster import IMAGE, Cluster, leader_host, manager_status, wait_until  # noqa: E402

SERVICE = "h1-failover"
PROBE = "h1-probe"
RESULTS = REPO / "docs" / "benchmarks.md"
HEADING = "## Failover of work"
TRIAL_LIMIT = 60.0  # seconds a trial may take before it counts as a failure


def spread(client: ControlClient) -> dict[str, int]:
    """node id -> how many of the service's tasks run there, as ``service ps`` shows them."""
    counts: dict[str, int] = {}
    for task in client.service_ps(SERVICE)["tasks"]:
        if task["DesiredState"] == "running" and task["Status"]["State"] == "running":
            counts[task["NodeID"]] = counts.get(task["NodeID"], 0) + 1
    return counts


class Watch:
    """``service ps`` polled on one manager, remembering when (seconds after ``started``) each task was first
    seen in each state: where a trial's time went, as a user polling would see it."""

    def __init__(self, client: ControlClient, started: float):
        self._client = client
        self._started = started
        self.first_seen: dict[tuple[str, str], float] = {}

    def converged(self, replicas: int, dead: str) -> bool:
        """True when every replica runs and none is meant to run on ``dead``."""
        try:
            tasks = self._client.service_ps(SERVICE)["tasks"]
        except CliError:
            return False
        now = time.monotonic() - self._started
        for task in tasks:
            self.first_seen.setdefault((task["ID"], task["Status"]["State"]), now)
        return converged_tasks(tasks, replicas, dead)

    def stages(self, before: set[str]) -> str:
        """When the first task not in ``before`` was first seen in each state."""
        firsts: dict[str, float] = {}
        for (task_id, state), seen in self.first_seen.items():
            if task_id not in before:
                firsts[state] = min(seen, firsts.get(state, seen))
        return ", ".join(f"{state} {seen:.2f}" for state, seen in sorted(firsts.items(), key=lambda item: item[1]))


def converged(client: ControlClient, replicas: int, dead: str | None = None) -> bool:
    """True when every replica runs and none is meant to run on ``dead``; False while the managers do not answer."""
    try:
        return converged_tasks(client.service_ps(SERVICE)["tasks"], replicas, dead)
    except CliError:
        return False


def converged_tasks(tasks: list[dict], replicas: int, dead: str | None) -> bool:
    """True when ``tasks`` show every replica running and none meant to run on ``dead``."""
    wanted = [task for task in tasks if task["DesiredState"] == "running"]
    return (sum(1 for task in wanted if task["Status"]["State"] == "running" and task["NodeID"] != dead) == replicas
            and not any(task["NodeID"] == dead for task in wanted))


def acknowledged_write(client: ControlClient) -> bool:
    """One write through the control API (scale the probe service to 0); True once acknowledged."""
    try:
        client.call("service_scale", {"ref": PROBE, "replicas": 0}, timeout=1.0)
        return True
    except CliError:
        return False


def trial(cluster: Cluster, managers: list, replicas: int) -> tuple[float, float, str]:
    """One kill -9 of the leader's host: (seconds to the next acknowledged write, seconds to converged, where
    the time went)."""
    leader = leader_host(cluster, managers)
    survivor = next(host for host in managers if host is not leader)
    client = ControlClient(survivor.state_dir)
    if not spread(client).get(leader.node_id):  # scale to 0 and back: the scheduler spreads them over every node
        survivor.shoal("service", "scale", "--detach", f"{SERVICE}=0")
        wait_until(lambda: not client.service_ps(SERVICE)["tasks"], TRIAL_LIMIT, what="the tasks removed")
        survivor.shoal("service", "scale", "--detach", f"{SERVICE}={replicas}")
        wait_until(lambda: converged(client, replicas) and spread(client).get(leader.node_id), TRIAL_LIMIT,
                   what="the tasks spread again, some on the leader")
    on_leader = spread(client)[leader.node_id]
    before = {task["ID"] for task in client.service_ps(SERVICE)["tasks"]}
    killed, killed_at = time.monotonic(), time.time()
    leader.kill9()
    watch = Watch(client, killed)
    write = wait_until(lambda: acknowledged_write(client) and time.monotonic() - killed, TRIAL_LIMIT, interval=0.02,
                       what="a write acknowledged")
    done = shown(survivor, lambda: watch.converged(replicas, leader.node_id) and time.monotonic() - killed,
                 "the service converged without the dead host")
    went = (f"{on_leader} of {replicas} tasks on the killed leader; {timeline(client, leader.node_id, killed_at)}; "
            f"a replacement first seen by `service ps`: {watch.stages(before)}")
    print(f"  write after {write:.2f}s, converged after {done:.2f}s; {went}", flush=True)
    leader.start_daemon()
    shown(survivor, lambda: all_back(survivor, managers, len(cluster.hosts)), "the killed host back", interval=0.1)
    return write, done, went


def shown(host, predicate, what: str, interval: float = 0.02):
    """``wait_until(predicate)`` for TRIAL_LIMIT s; when it times out, print what ``host`` shows of the nodes and
    the service, then fail."""
    try:
        return wait_until(predicate, TRIAL_LIMIT, interval=interval, what=what)
    except AssertionError:
        print(host.shoal("node", "ls", check=False).stdout, host.shoal("service", "ps", SERVICE, check=False).stdout)
        raise


def timeline(client: ControlClient, dead: str, killed_at: float) -> str:
    """Where a trial's time went, from the store's timestamps (seconds after the kill): the dead node marked
    down, its tasks' replacements created, and the last of them running."""
    node = client.call("node_inspect", {"ref": dead})
    tasks = client.service_ps(SERVICE)["tasks"]
    new = [task for task in tasks if task["DesiredState"] == "running" and schema.parse_time(task["CreatedAt"]) > killed_at]
    if node["Status"]["State"] != "down" or not new:
        return "no replacements"
    since = lambda stamp: f"{schema.parse_time(stamp) - killed_at:.2f}"  # noqa: E731
    return (f"node down at {since(node['Status']['Timestamp'])}, replacements created at "
            f"{'/'.join(since(t['CreatedAt']) for t in new)}, running at "
            f"{'/'.join(since(t['Shoal']['RunningAt']) for t in new if t.get('Shoal', {}).get('RunningAt'))} s")


def all_back(host, managers: list, nodes: int) -> bool:
    """True when ``node ls`` on ``host`` shows ``nodes`` nodes ready and every manager voting and reachable."""
    listing = host.shoal("node", "ls", check=False)
    if listing.returncode != 0 or listing.stdout.count("Ready") != nodes:
        return False
    status = manager_status(host)
    return all(status.get(manager.node_id) in ("Leader", "Reachable") for manager in managers)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> str:
    """``p50 / p99 / max`` in seconds."""
    return f"{statistics.median(values):.2f} / {percentile(values, 99):.2f} / {max(values):.2f} s"


NOTES = """
Before this work (main at 709ac44, the same command from a checkout of it, run just before): next write
0.58 / 0.69 / 0.69 s, service converged 4.92 / 6.48 / 6.48 s (trials 6.48, 4.21, 4.92, 5.66, 3.85). Then the
dead host's controllers held their leases until the 3 s TTL ran out, its dispatcher's presence lease had to
lapse (2 s) and its nodes get 1 s more before they were marked down.

Now a dead manager is recognised by the Raft leader's evidence: the new leader publishes the members it has
not heard from in 0.6 s as unreachable (every 0.25 s), and a lease held on such a member is dead at once
(actors/common/leases.py); the controllers' leases follow the leader, so the new leader's controllers take
them as soon as it publishes itself leader; the dead host's own node, whose session was with its host's
dispatcher, is marked down at once, and if its session was with another dispatcher, after 0.5 s without
heartbeats (instead of 1.5 s) once its member is reported unreachable. Other nodes in session with the dead dispatcher get 2 s (ORPHAN_GRACE, 1 s
before) from that moment to reconnect elsewhere: with 1 s, a worker whose executor was still waiting out its
heartbeat's timeout was marked down and its tasks replaced too (seen in one trial). What is left (timestamps below, seconds after the kill): the
election and the unreachable mark put the node down at 0.8-1.0 s; the orchestrator, allocator and
scheduler assign the replacements within about 0.2 s; the executor's engine create and start take most of
the last second (more when the machine is loaded: other sessions' tests ran beside this one). The goal of
2 s is met by some trials, not at p50.

Second round (h1, with the cluster's logs kept, SHOAL_DEBUG=1, load average ~28): the slow trials were not
the orchestrator or the scheduler. (1) A worker in session with the killed leader's dispatcher noticed only
when its heartbeat's 1 s deadline ran out: its new session opened 1.3 s after the kill, and a replacement
already assigned to it started 0.3 s after the one on a manager. The executor now fails over as soon as the
dispatcher's end of the link closes (a killed process's kernel closes its connections; ZeroMQ's socket
monitor reports it: actors/executor/linkwatch.py), so such a worker is in session elsewhere before the
replacements exist. (2) One trial never converged: the replacement's later status reports reached a
dispatcher during the election, the proposal failed with no_leader and the reports were dropped, so the
task stayed `accepted` while its container ran; the dispatcher now proposes them again. (3) What remains
on a loaded machine is the engine: from the executor's create action to the container's start event took
1.0-1.9 s at load average 28-40 (the create, start and inspect calls of one Create action), against
0.77-1.06 s from the kill to that action.
"""


def render(writes: list[float], converges: list[float], went: list[str], args) -> str:
    """The benchmarks.md section for these trials."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{HEADING}\n\nMeasured {stamp} on this 2-core machine by `python3 benchmarks/failover.py --trials "
            f"{args.trials} --replicas {args.replicas}`: 3 manager hosts and 1 worker host, a service of "
            f"{args.replicas} replicas spread over the 4 nodes; each trial kills -9 every process of the Raft "
            "leader's host (which runs some of the replicas) and restarts it afterwards.\n\n"
            f"| measurement ({len(writes)} trials) | p50 / p99 / max | trials (s) | goal |\n|---|---|---|---|\n"
            f"| leader host kill -9 → next acknowledged write | {summary(writes)} | "
            f"{', '.join(f'{v:.2f}' for v in writes)} | p99 < 1 s |\n"
            f"| leader host kill -9 → service converged again | {summary(converges)} | "
            f"{', '.join(f'{v:.2f}' for v in converges)} | < 2 s |\n" + NOTES + "\nWhere each trial's time went:\n\n"
            + "".join(f"{number}. {text}\n" for number, text in enumerate(went, start=1)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--no-save", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    root = pathlib.Path(tempfile.mkdtemp(prefix="h1-failover-"))
    cluster = Cluster(root)
    writes, converges, went = [], [], []
    try:
        first = cluster.init_manager()
        managers = [first, cluster.join("manager2", "manager"), cluster.join("manager3", "manager")]
        cluster.join_worker("worker1")
        wait_until(lambda: all_back(first, managers, 4), TRIAL_LIMIT, what="3 managers and a worker ready")
        first.shoal("service", "create", "--detach", "--name", SERVICE, "--replicas", str(args.replicas),
                    "--stop-grace-period", "1s", IMAGE, "sleep", "100000")
        first.shoal("service", "create", "--detach", "--name", PROBE, "--replicas", "0", IMAGE, "sleep", "1")
        wait_until(lambda: converged(ControlClient(first.state_dir), args.replicas), TRIAL_LIMIT, what="the service running")
        for number in range(args.trials):
            print(f"trial {number + 1}/{args.trials}", flush=True)
            write, done, where = trial(cluster, managers, args.replicas)
            writes.append(write)
            converges.append(done)
            went.append(where)
    finally:
        cluster.teardown()
        shutil.rmtree(root, ignore_errors=True)
    section = render(writes, converges, went, args)
    print(section)
    if not args.no_save:
        replace_section(RESULTS, HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
