"""``shoal service logs`` and ``shoal events`` on a real manager and worker (one module cluster): output of the
tasks on both hosts with Docker's prefix, --tail, --since, --raw and -t; -f follows a task that exits and is
replaced and ends when the service is removed, or on Ctrl-C; with the worker's host stopped, one warning line,
no hang. ``events`` shows each task's transitions, timestamped, live and since a time, filtered by service."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time

import pytest

from tests.integration.cluster import IMAGE, SHOAL, running_cluster, tasks, wait_until
from transport import limits

PRINTS = "s7-prints"
EXITS = "s7-exits"
PRINT = ["sh", "-c", "echo hello; echo line1; echo line2; sleep 0.2; echo oops >&2; trap 'exit 0' TERM; sleep 1000 & wait"]
# Each task prints its own marker and exits after a moment: the restart policy replaces it.
EXIT = ["sh", "-c", "echo run-$(hostname); sleep 1; exit 1"]
EVENT = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (?P<type>task|node) (?P<action>[a-z]+) "
                   r"(?P<id>[0-9a-z]+) \((?P<attributes>.*)\)$")
PREFIX = re.compile(r"^(?P<name>s7-[a-z]+\.[0-9]+)\.(?P<task>[0-9a-z]{12})@(?P<node>\S+) +\| (?P<text>.*)$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    """A manager and a worker running one task each (global mode) of a service that prints four lines."""
    with running_cluster(tmp_path_factory.mktemp("s7-logs"), workers=1) as made:
        manager = made.hosts[0]
        manager.shoal("service", "create", "--detach", "--name", PRINTS, "--mode", "global", IMAGE, *PRINT)
        wait_until(lambda: len([t for t in tasks(manager, PRINTS) if t["Status"]["State"] == "running"]) == 2, 40,
                   what="a running task on each node")
        yield made


def logs(manager, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return manager.shoal("service", "logs", *args, check=check, timeout=30)


def parsed(output: str) -> list[dict]:
    lines = [PREFIX.match(line) for line in output.splitlines()]
    assert all(lines), output
    return [line.groupdict() for line in lines]


def test_logs_show_each_hosts_task_with_dockers_prefix(cluster):
    manager = cluster.hosts[0]
    task_ids = {t["ID"][:12] for t in tasks(manager, PRINTS)}
    # Lines reach the engine's log a moment after the task is running.
    result = wait_until(lambda: (r := logs(manager, PRINTS)).stdout.count("line2") == 2 and r, 10, what="both tasks' lines")
    out = parsed(result.stdout)
    assert {line["task"] for line in out} == task_ids
    for task_id in task_ids:
        assert [line["text"] for line in out if line["task"] == task_id] == ["hello", "line1", "line2"]
    assert parsed(result.stderr) and {line["text"] for line in parsed(result.stderr)} == {"oops"}


def test_tail_raw_timestamps_since_and_one_task(cluster):
    manager = cluster.hosts[0]
    tail = logs(manager, "--tail", "2", "--raw", PRINTS)
    assert tail.stdout.splitlines() == ["line2", "line2"] and tail.stderr.splitlines() == ["oops", "oops"]
    no_ids = logs(manager, "-t", "--no-task-ids", "--no-resolve", "--tail", "1", PRINTS).stderr.splitlines()
    service_id = tasks(manager, PRINTS)[0]["ServiceID"]
    nodes = set()
    for line in no_ids:
        found = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (\w+)\.0@(\w+)    \| oops", line)
        assert found and found[1] == service_id, line
        nodes.add(found[2])
    assert nodes == {host.node_id for host in cluster.hosts}
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    assert logs(manager, "--since", later, PRINTS).stdout == ""
    one_task = next(t for t in tasks(manager, PRINTS) if t["NodeID"] == cluster.hosts[1].node_id)
    assert logs(manager, "--raw", one_task["ID"]).stdout.splitlines() == ["hello", "line1", "line2"]
    missing = logs(manager, "s7-nosuch", check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == "Error: no such task or service: s7-nosuch"


def interactive(command: list[str]) -> subprocess.Popen:
    """``command`` started as from a terminal, where Ctrl-C interrupts it: SIGINT at its default even when
    this test runs as a background job (a shell starts those with SIGINT ignored, which Python keeps)."""
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def follow(manager, *args: str) -> subprocess.Popen:
    return interactive(SHOAL + ["--state-dir", str(manager.state_dir), "service", "logs", "-f", *args])


def test_follow_goes_on_across_a_replaced_task_and_ends_when_the_service_is_removed(cluster):
    manager = cluster.hosts[0]
    watcher = interactive(SHOAL + ["--state-dir", str(manager.state_dir), "events", "--filter", f"service={EXITS}",
                                   "--since", f"{time.time():.3f}"])
    manager.shoal("service", "create", "--detach", "--name", EXITS, "--restart-condition", "any",
                  "--restart-delay", "0s", IMAGE, *EXIT)
    follower = follow(manager, "--raw", EXITS)
    seen, _ = read_lines(follower)
    try:
        # Each task's container has a hostname of its own: two markers are two tasks, the second a replacement.
        wait_until(lambda: len({line for line in seen if line.startswith("run-")}) >= 2, 30, what="a replaced task's line")
        manager.shoal("service", "rm", EXITS)
        follower.wait(timeout=10)
        watcher.send_signal(signal.SIGINT)
        watched, _ = watcher.communicate(timeout=10)
    finally:
        follower.kill()
        watcher.kill()
    assert follower.returncode == 0
    assert watcher.returncode == 130
    events = [EVENT.match(line) for line in watched.splitlines()]
    assert all(events), watched
    by_task: dict[str, list] = {}
    for event in events:
        if event["type"] == "task":
            assert f"service={EXITS}" in event["attributes"]
            by_task.setdefault(event["id"], []).append(event["action"])
    # The first task ran and failed (its exit 1), and its replacement ran.
    assert len(by_task) >= 2 and any({"running", "failed"} <= set(actions) for actions in by_task.values()), watched


def test_events_since_a_time_show_each_tasks_transitions_in_order(cluster):
    manager = cluster.hosts[0]
    result = manager.shoal("events", "--since", "10m", "--until", "0s", "--filter", f"service={PRINTS}", timeout=30)
    events = [EVENT.match(line).groupdict() for line in result.stdout.splitlines()]
    assert {e["id"] for e in events} == {t["ID"] for t in tasks(manager, PRINTS)}
    for task_id in {e["id"] for e in events}:
        mine = [e for e in events if e["id"] == task_id]
        running = [e for e in mine if e["action"] == "running"]
        assert len(running) == 1 and "from=" in running[0]["attributes"], mine
        assert [e["time"] for e in mine] == sorted(e["time"] for e in mine)


def test_follow_ends_on_ctrl_c(cluster):
    follower = follow(cluster.hosts[0], PRINTS)
    out, _ = read_lines(follower)
    try:
        wait_until(lambda: sum("| line2" in line for line in out) == 2, 20, what="both tasks' lines")
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=5)
    finally:
        follower.kill()
    assert follower.returncode == 130


def test_a_stopped_worker_gives_one_warning_and_no_hang(cluster):
    manager, worker = cluster.hosts
    follower = follow(manager, "--raw", PRINTS)
    out, err = read_lines(follower)
    try:
        wait_until(lambda: out.count("line2\n") == 2, 20, what="the follower showing both nodes' tasks")
        worker.kill9()
        started = time.monotonic()
        result = logs(manager, "--raw", PRINTS)
        assert time.monotonic() - started < limits.LOG_NODE_SECONDS + 5
        wait_until(lambda: any(line.startswith("warning: ") for line in err), limits.LOG_NODE_SECONDS + 5,
                   what="the follower's warning")
        time.sleep(1.0)  # its next rounds warn no more
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=limits.LOG_NODE_SECONDS + 5)
    finally:
        follower.kill()
    assert result.stdout.splitlines() == ["hello", "line1", "line2"]  # the manager's task
    for lines in (result.stderr.splitlines(), err):
        warnings = [line for line in lines if line.startswith("warning: ")]
        assert len(warnings) == 1 and "the output of its" in warnings[0], lines
    assert follower.returncode == 130


def read_lines(process: subprocess.Popen) -> tuple[list[str], list[str]]:
    """The lines of ``process``'s stdout and stderr as they come (read by two threads)."""
    out: list[str] = []
    err: list[str] = []
    for stream, lines in ((process.stdout, out), (process.stderr, err)):
        threading.Thread(target=lambda source=stream, into=lines: into.extend(source), daemon=True).start()
    return out, err
