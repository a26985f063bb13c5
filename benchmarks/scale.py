#!/usr/bin/env python3
"""Scale: N replicas on M simulated nodes under 3 managers (--managers), at several sizes.

For each size TASKS/NODES it starts a fresh cluster of 3 manager hosts (all
drained, so every task lands on a simulated node), joins NODES - 1 simulated
nodes in processes of at most --nodes-per-process (bin/shoal-simnodes), plus
one more node in a process of its own (the node the benchmark loses), then:

1. creates one service of TASKS replicas (``service create --detach``) and
   times it until ``service ls`` counts TASKS running: seconds and tasks/s;
2. sums the resident memory (VmRSS) of every process of the manager hosts
   (supervisors and all their actors) while the TASKS run;
3. kill -9's the lone node's process and times until its tasks run elsewhere
   (none of the service's running tasks on it, TASKS running again);
4. scales the service to 0 and times until none of its tasks runs.

The clock of each measure starts before the command that causes it and stops
at the first poll (every POLL seconds, through the control API) that shows
the outcome. Every wait is bounded (--timeout); a size that times out is
reported as such and the next size still runs. Results go to
docs/benchmarks.md, section "## Scale".

    python3 benchmarks/scale.py [--sizes 1000/100 5000/200] [--start-delay 0.1]

Everything runs on loopback; simulated containers never reach Docker.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import pathlib
import shutil
import os
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.cli.client import CliError, ControlClient  # noqa: E402
from actors.simnodes import hosts  # noqa: E402
from benchmarks.report import replace_section  # noqa: E402
from tests.integration.cluster import IMAGE, Cluster, Host  # noqa: E402

RESULTS = REPO / "docs" / "benchmarks.md"
HEADING = "## Scale"
POLL = 0.25
SERVICE = "h1scale"
READING = """How to read it: every node heartbeats at the cluster's `Dispatcher.HeartbeatPeriod` (250 ms as `swarm init`
sets it, with jitter; `swarm update --dispatcher-heartbeat` changes it), so M nodes send about 4M requests a second;
workers spread over the dispatchers of every manager (`actors/executor/membership.py`); the nodes of one simnodes
process share one Python process and one core. A task crosses five commits: created (orchestrator), pending
(allocator), assigned (scheduler), then its node's accepted and running reports, which the dispatcher batches; a
node is pushed its assignment set again when a task comes, goes or changes desired state, not after its own
reports. A row that times out says how far it got."""


@dataclasses.dataclass
class Result:
    """One size's measures; None where the step did not finish within the timeout."""

    tasks: int
    nodes: int
    to_running: float | None = None
    manager_cpu: float | None = None  # CPU seconds the manager hosts' processes used from create to all running
    simnodes_cpu: float | None = None  # the same for the simnodes processes
    rss_mib: float | None = None
    lost_node_tasks: int = 0
    replaced: float | None = None
    to_zero: float | None = None
    load: float = 0.0  # the machine's 1-minute load average when the service was created
    note: str = ""

    @property
    def rate(self) -> float | None:
        """Tasks per second from create to all running."""
        return self.tasks / self.to_running if self.to_running else None


def rss_mib(pids: list[int]) -> float:
    """Summed VmRSS of ``pids`` in MiB (a process that ended meanwhile counts 0)."""
    total_kib = 0
    for pid in pids:
        try:
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by ``pids`` (a process that ended counts 0)."""
    ticks = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def poll_until(check, timeout: float):
    """Call ``check`` every POLL seconds until it returns a truthy value (returned); None after
    ``timeout`` seconds. A control API call that fails (busy manager) counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except CliError:
            found = None
        if found:
            return found
        time.sleep(POLL)
    return None


class Bench:
    """One size's cluster: the managers, the simnodes processes, and the control client of the first manager."""

    def __init__(self, root: pathlib.Path, managers: int, nodes: int, per_process: int, start_delay: float,
                 timeout: float):
        self.cluster = Cluster(root)
        self.managers, self.nodes, self.per_process = managers, nodes, per_process
        self.start_delay, self.timeout = start_delay, timeout
        self.processes: dict[str, subprocess.Popen] = {}
        self.client: ControlClient | None = None

    def start(self) -> None:
        """The managers (drained) and every simulated node, all ready."""
        manager = self.cluster.init_manager()
        for number in range(2, self.managers + 1):
            self.cluster.join(f"manager{number}", "manager")
        self.client = ControlClient(manager.state_dir)
        for host in self.cluster.hosts:
            manager.shoal("node", "update", "--availability", "drain", host.node_id)
        token = manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
        rest, index = self.nodes - 1, 0
        while rest > 0:  # joins run one process at a time: a join is one Raft write, serialised anyway
            count = min(rest, self.per_process)
            self._simnodes(f"sim{index}", count, token, manager)
            rest, index = rest - count, index + 1
        self._simnodes("lone", 1, token, manager)
        ready = poll_until(lambda: self.ready_nodes() >= self.nodes + self.managers or None, self.timeout)
        if ready is None:
            raise RuntimeError(f"{self.nodes} simulated nodes were not all ready within {self.timeout:g}s")

    def _simnodes(self, name: str, count: int, token: str, manager: Host) -> None:
        log = open(self.cluster.root / f"{name}.log", "ab")
        state_dir = self.cluster.root / name
        process = subprocess.Popen(
            [sys.executable, str(REPO / "bin" / "shoal-simnodes"), "--state-dir", str(state_dir), "--join", token,
             f"127.0.0.1:{manager.port}", "--count", str(count), "--start-delay", str(self.start_delay)],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.processes[name] = process
        deadline = time.monotonic() + self.timeout
        while len(hosts.joined(state_dir)) < count and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if len(hosts.joined(state_dir)) < count:
            raise RuntimeError(f"simnodes {name} did not join its {count} nodes: see {log.name}")

    def ready_nodes(self) -> int:
        return sum(1 for node in self.client.call("node_ls", timeout=10) if node["Status"]["State"] == "ready")

    def running(self) -> int:
        rows = [row for row in self.client.call("service_ls", timeout=10) if row["service"]["Spec"]["Name"] == SERVICE]
        return rows[0]["running"] if rows else 0

    def lone_node_running(self, node_id: str) -> int:
        """The service's tasks the lost node still counts as running (desired running, observed running)."""
        listed = self.client.call("node_ps", {"refs": [node_id]}, timeout=10)
        return sum(1 for item in listed if "task" in item and item["task"]["DesiredState"] == "running"
                   and item["task"]["Status"]["State"] == "running")

    def manager_pids(self) -> list[int]:
        return [pid for host in self.cluster.hosts for pid in host.pids()]

    def simnodes_pids(self) -> list[int]:
        return [process.pid for process in self.processes.values() if process.poll() is None]

    def stop(self) -> None:
        """Kill every simnodes process, then the managers."""
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(30)
        self.cluster.teardown()


def measure(bench: Bench, tasks: int) -> Result:
    """The four measures of one size on a started Bench."""
    result = Result(tasks, bench.nodes)
    manager = bench.cluster.hosts[0]
    result.load = os.getloadavg()[0]
    managers, simnodes = bench.manager_pids(), bench.simnodes_pids()
    cpu_before = cpu_seconds(managers), cpu_seconds(simnodes)
    started = time.monotonic()
    manager.shoal("service", "create", "--detach", "--name", SERVICE, "--replicas", str(tasks), IMAGE, "sleep", "1d")
    if poll_until(lambda: bench.running() == tasks, bench.timeout) is None:
        result.note = f"not all running within {bench.timeout:g}s ({bench.running()} of {tasks})"
        return result
    result.to_running = time.monotonic() - started
    result.manager_cpu = cpu_seconds(managers) - cpu_before[0]
    result.simnodes_cpu = cpu_seconds(simnodes) - cpu_before[1]
    result.rss_mib = rss_mib(bench.manager_pids())
    lone = hosts.joined(bench.cluster.root / "lone")[0].node_id
    result.lost_node_tasks = bench.lone_node_running(lone)
    started = time.monotonic()
    bench.processes["lone"].send_signal(signal.SIGKILL)
    replaced = poll_until(lambda: bench.lone_node_running(lone) == 0 and bench.running() == tasks, bench.timeout)
    result.replaced = time.monotonic() - started if replaced else None
    started = time.monotonic()
    manager.shoal("service", "scale", "--detach", f"{SERVICE}=0")
    gone = poll_until(lambda: bench.running() == 0, bench.timeout)
    result.to_zero = time.monotonic() - started if gone else None
    return result


def run_size(tasks: int, nodes: int, args) -> Result:
    """A fresh cluster for one size, measured, then torn down."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="h1scale-"))
    bench = Bench(root, args.managers, nodes, args.nodes_per_process, args.start_delay, args.timeout)
    try:
        bench.start()
        return measure(bench, tasks)
    except (RuntimeError, AssertionError) as exc:  # the cluster could not be set up (a join timed out...)
        return Result(tasks, nodes, load=os.getloadavg()[0], note=str(exc))
    finally:
        bench.stop()
        shutil.rmtree(root, ignore_errors=True)


def shown(value: float | None, form: str) -> str:
    return "timed out" if value is None else format(value, form)


def table(results: list[Result]) -> str:
    lines = ["| tasks / nodes | create to all running (s) | tasks/s | CPU-s: managers / simnodes "
             "| manager RSS, all hosts (MiB) | one node lost: its tasks | replaced (s) | scale to 0 (s) | load avg "
             "| note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.tasks} / {r.nodes} | {shown(r.to_running, '.1f')} | {shown(r.rate, '.0f')} "
                     f"| {shown(r.manager_cpu, '.0f')} / {shown(r.simnodes_cpu, '.0f')} "
                     f"| {shown(r.rss_mib, '.0f')} | {r.lost_node_tasks} | {shown(r.replaced, '.1f')} "
                     f"| {shown(r.to_zero, '.1f')} | {r.load:.0f} | {r.note} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1000/100", "2000/200", "5000/200"],
                        help="TASKS/NODES pairs (default: 1000/100 2000/200 5000/200)")
    parser.add_argument("--managers", type=int, default=3, help="manager hosts (default 3)")
    parser.add_argument("--nodes-per-process", type=int, default=250, help="simulated nodes per simnodes process")
    parser.add_argument("--start-delay", type=float, default=0.1, help="seconds a simulated start takes")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound of every wait, seconds")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # tear the cluster down on the way out
    results = []
    for size in args.sizes:
        tasks, nodes = (int(part) for part in size.split("/"))
        results.append(run_size(tasks, nodes, args))
        print(table(results[-1:]), flush=True)
    body = table(results)
    print(body)
    if args.no_write:
        return
    replace_section(RESULTS, HEADING, section(args, body))


def section(args, body: str) -> str:
    """The docs/benchmarks.md section of this run: how it was made, the table, how to read it."""
    command = " ".join(["python3 benchmarks/scale.py", *sys.argv[1:]])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    return (f"{HEADING}\n\n`{command}` at commit {commit}, {datetime.date.today().isoformat()}, on this 2-core "
            f"machine shared with other work (load avg: its 1-minute load average when the service was created). "
            f"{args.managers} manager host(s), drained; simulated nodes (`bin/shoal-simnodes`, start delay "
            f"{args.start_delay:g} s); one service. RSS sums every process of the manager hosts while all tasks "
            f"run. CPU-s is the CPU time (user + system) the processes of the managers and of the simnodes used "
            f"from create to all running: the machine's other load stretches the seconds, much less the CPU time.\n\n{body}\n\n{READING}\n")


if __name__ == "__main__":
    main()
