"""Faults, not just bad input: each test ends with every acknowledged write present, no duplicate
containers, and the cluster converging a new service."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import docker
import pytest

from actors.common.faults import FAULT_INJECTION_ENV
from actors.common.hostconfig import MANAGER_ACTORS
from tests.integration.cluster import (IMAGE, REPO, Cluster, containers, leader_host, metric, running_count, settled,
                                       tasks, wait_until)
from transport import schema


def actor_pid_or_none(host, actor: str) -> int | None:
    """Pid of ``actor`` of ``host`` (the process running ``shoal-actor ACTOR --state-dir DIR``), or None."""
    for pid in host.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                parts = cmdline.read().split(b"\0")
        except OSError:  # it exited meanwhile
            continue
        if b"shoal-actor" in b" ".join(parts) and actor.encode() in parts:
            return pid
    return None


def actor_pid(host, actor: str) -> int:
    """Pid of ``actor`` of ``host``; fails the test when it does not run."""
    pid = actor_pid_or_none(host, actor)
    assert pid is not None, f"no {actor} process for {host.state_dir}"
    return pid


def log_lines(host, actor: str, text: str) -> list[str]:
    """Lines of the actor's log that contain ``text``."""
    path = host.state_dir / "logs" / f"{actor}.log"
    return [line for line in path.read_text(errors="replace").splitlines() if text in line]


def converges(manager, name: str, replicas: int) -> None:
    """Create service ``name`` and wait until exactly ``replicas`` containers of it run. Its containers are
    killed at once when stopped (sleep, as PID 1, ignores SIGTERM until Docker's 10 s grace ends)."""
    manager.shoal("service", "create", "--detach", "--name", name, "--replicas", str(replicas), "--stop-grace-period",
                  "0s", IMAGE, "sleep", "1000")
    wait_until(lambda: running_count(manager, name) == replicas and len(containers(name)) == replicas, 60,
               what=f"{replicas} tasks of {name} running")


def fill(directory, filler: str = "filler") -> None:
    """Write zeros to ``directory/filler`` until the file system says it is full."""
    block = b"\0" * (1 << 20)
    with open(os.path.join(directory, filler), "wb") as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


@pytest.fixture
def tmpfs_raft(tmp_path):
    """A 24 MiB tmpfs mounted where the first manager keeps its Raft log (unmounted afterwards)."""
    raft = tmp_path / "manager" / "raft"
    raft.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(raft)], check=True)
    try:
        yield raft
    finally:
        subprocess.run(["umount", "-l", str(raft)], check=False)


def test_a_full_disk_refuses_writes_clearly_keeps_serving_and_recovers(tmp_path, tmpfs_raft, docker_engine):
    cluster = Cluster(tmp_path)
    try:
        manager = cluster.init_manager()
        converges(manager, "before", 2)
        raft_pid = actor_pid(manager, "raft")
        fill(tmpfs_raft)
        filled_at = time.monotonic()
        wait_until(lambda: log_lines(manager, "raft", "cannot write the raft log"), 20,
                   what="the member to notice the full disk")
        noticed = time.monotonic() - filled_at
        refused = manager.shoal("service", "create", "--detach", "--name", "refused", IMAGE, "sleep", "1000",
                                check=False, timeout=30)
        assert refused.returncode == 1, refused
        assert refused.stderr.count("\n") == 1 and "cannot write its Raft log" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        # Reads and the running tasks carry on; the member neither crashed nor logged more than one line.
        assert "before" in manager.shoal("service", "ls").stdout
        assert running_count(manager, "before") == 2
        time.sleep(2)
        assert actor_pid(manager, "raft") == raft_pid
        assert len(log_lines(manager, "raft", "cannot write the raft log")) == 1
        os.unlink(tmpfs_raft / "filler")
        freed_at = time.monotonic()
        wait_until(lambda: log_lines(manager, "raft", "raft log writable again"), 20, what="writes to resume")
        converges(manager, "after", 2)
        print(f"disk full: noticed after {noticed:.2f}s; writes resumed {time.monotonic() - freed_at:.2f}s "
              "after space returned (service converged)")
        # Nothing was corrupted: the host restarts from its log with every acknowledged write.
        manager.kill9()
        manager.start_daemon()
        wait_until(lambda: manager.shoal("service", "ls", check=False).returncode == 0, 30, what="the manager back")
        listing = manager.shoal("service", "ls").stdout
        assert "before" in listing and "after" in listing and "refused" not in listing
        wait_until(lambda: len(containers("before")) == 2 and len(containers("after")) == 2, 30,
                   what="no duplicate containers after the restart")
    finally:
        cluster.teardown()


@pytest.fixture
def three_managers(tmp_path, docker_engine):
    cluster = Cluster(tmp_path)
    try:
        first = cluster.init_manager()
        cluster.join("manager2", "manager")
        cluster.join("manager3", "manager")
        wait_until(lambda: settled(first, {host.node_id: status for host, status in
                                           zip(cluster.hosts, ("Leader", "Reachable", "Reachable"))}), 30,
                   what="three voters")
        yield cluster
    finally:
        cluster.teardown()


def signal_host(host, signum: int) -> None:
    """Send ``signum`` to every process of ``host`` (supervisor and actors)."""
    for pid in host.pids():
        os.kill(pid, signum)


def no_duplicates(manager, services: dict[str, int]) -> None:
    """Wait until each service runs exactly its replicas: as many tasks wanted running and running
    in the store as containers running in the engine."""
    wait_until(lambda: all(running_count(manager, name) == replicas and len(containers(name)) == replicas
                           for name, replicas in services.items()), 60,
               what=f"exactly {services} running, no duplicates")


def test_a_leader_paused_for_5s_is_replaced_and_rejoins_as_follower(three_managers):
    cluster = three_managers
    managers = cluster.hosts
    leader = leader_host(cluster, managers)
    survivors = [host for host in managers if host is not leader]
    converges(leader, "steady", 3)
    signal_host(leader, signal.SIGSTOP)
    paused_at = time.monotonic()
    try:
        new_leader = wait_until(lambda: (found := leader_host(cluster, survivors)) in survivors and found, 20,
                                what="a new leader")
        elected = time.monotonic() - paused_at
        survivors[0].shoal("service", "create", "--detach", "--name", "during", "--replicas", "2", IMAGE,
                           "sleep", "1000")
        time.sleep(max(0.0, 5 - (time.monotonic() - paused_at)))
    finally:
        signal_host(leader, signal.SIGCONT)
    # The old leader hears of the new term and follows; its controllers' stale writes are fenced.
    wait_until(lambda: settled(new_leader, {leader.node_id: "Reachable"}), 30, what="the old leader back as a follower")
    assert leader_host(cluster, managers) is new_leader
    roles = [line for line in (leader.state_dir / "logs" / "raft.log").read_text().splitlines() if "raft role" in line]
    assert "role=follower" in roles[-1], roles[-1]
    no_duplicates(new_leader, {"steady": 3, "during": 2})
    converges(new_leader, "after", 2)
    print(f"leader SIGSTOP 5 s: new leader seen after {elected:.2f}s, converged "
          f"{time.monotonic() - paused_at:.2f}s after the pause began")


FAKETIME = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))


def faketime_env(clock_file) -> dict[str, str]:
    """This process's environment plus libfaketime reading its offset from ``clock_file``."""
    assert FAKETIME, "libfaketime is missing (bin/shoal-docker-env installs Debian's faketime)"
    return dict(os.environ, LD_PRELOAD=FAKETIME[0], FAKETIME_DONT_FAKE_MONOTONIC="1",
                FAKETIME_TIMESTAMP_FILE=str(clock_file), FAKETIME_NO_CACHE="1")


def start_actors_on_a_clock(host, clock_file) -> None:
    """Run each of the manager ``host``'s actors (``bin/shoal-actor``) with libfaketime preloaded: their
    wall clock is real time plus the offset in ``clock_file`` (``+600``), read at every call; their
    monotonic clock stays real. Not under shoald: libfaketime 0.9.10 makes Python's time.sleep (the
    supervisor's loop) fail with EINVAL when it leaves the monotonic clock alone; the actors never call it."""
    env = faketime_env(clock_file)
    for name in MANAGER_ACTORS:
        with open(host.state_dir / "logs" / f"{name}.log", "ab") as log:
            subprocess.Popen([sys.executable, str(REPO / "bin" / "shoal-actor"), name, "--state-dir",
                              str(host.state_dir)], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True, cwd=str(REPO))


def time_on_the_clock(clock_file) -> float:
    """What time.time() says in a process started with :func:`faketime_env` (as the actors are)."""
    probe = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], env=faketime_env(clock_file),
                           capture_output=True, text=True, check=True)
    return float(probe.stdout)


def record(manager, service: str, seen: dict[str, dict]) -> None:
    """Keep in ``seen`` the latest state of every task of ``service`` (the store keeps only a few per slot)."""
    for task in tasks(manager, service):
        seen[task["ID"]] = task


def restart_delays(seen: dict[str, dict]) -> list[float]:
    """Seconds from each attempt's end, as its container's exit time (the engine's clock, which nobody
    jumped), to the creation of the next attempt (the store's clock)."""
    attempts = sorted(seen.values(), key=lambda task: task["Shoal"]["Attempt"])
    return [schema.parse_time(later["CreatedAt"]) - schema.parse_time(earlier["Status"]["Timestamp"])
            for earlier, later in zip(attempts, attempts[1:]) if earlier["Status"]["State"] == "failed"]


def test_a_manager_clock_jumping_minutes_keeps_leases_and_restart_delays(tmp_path, docker_engine):
    cluster = Cluster(tmp_path)
    clock_file = tmp_path / "clock"
    clock_file.write_text("+0\n")
    try:
        manager = cluster.init_manager()
        manager.kill9()
        start_actors_on_a_clock(manager, clock_file)
        wait_until(lambda: manager.shoal("node", "ls", check=False).returncode == 0, 30, what="the manager back")
        assert all(FAKETIME[0] in open(f"/proc/{pid}/maps").read() for pid in manager.pids())
        # Each task runs 1 s and fails; the policy restarts it 2 s after the store heard of the failure.
        manager.shoal("service", "create", "--detach", "--name", "flaky", "--restart-delay", "2s", IMAGE,
                      "sh", "-c", "sleep 1; exit 1")
        seen: dict[str, dict] = {}
        wait_until(lambda: record(manager, "flaky", seen) or len(seen) >= 2, 30, what="a first restart")
        # What the actors logged before the jumps (starting seven preloaded processes at once on a loaded
        # machine may cost a heartbeat) is not the jumps' doing: only what they log from here on counts.
        before = {actor: len(log_lines(manager, actor, "")) for actor in ("orchestrator", "allocator", "scheduler",
                                                                         "dispatcher")}
        for offset in ("+600", "-300", "+0"):  # ten minutes ahead, five behind, back to real time
            clock_file.write_text(offset + "\n")
            jumped_at = time.monotonic()
            while time.monotonic() - jumped_at < 5:
                record(manager, "flaky", seen)
                time.sleep(0.2)
            assert abs(time_on_the_clock(clock_file) - time.time() - int(offset)) < 5
            # The orchestrator's wall clock moved by the offset; the store's clock it decides by did not.
            assert abs(metric(manager, "orchestrator", 'shoal_wall_clock_skew_seconds{actor="orchestrator"}')
                       - int(offset)) < 5
        delays = restart_delays(seen)
        print(f"clock jumps +10 min, -5 min: {len(delays)} restarts, each {min(delays):.2f}-{max(delays):.2f}s "
              "after the previous attempt exited (restart delay 2 s)")
        assert len(delays) >= 3 and all(2.0 <= delay < 5 for delay in delays), delays
        # Leases never lapsed: no controller was fenced or lost its lease, no node was marked down.
        since = {actor: log_lines(manager, actor, "")[count:] for actor, count in before.items()}
        for actor in ("orchestrator", "allocator", "scheduler"):
            assert not [line for line in since[actor] if "lost lease" in line or "fenced" in line], actor
        assert not [line for line in since["dispatcher"] if "missed heartbeats" in line]
        assert manager.json("node", "inspect", manager.node_id)[0]["Status"]["State"] == "ready"
        manager.shoal("service", "rm", "flaky")
        converges(manager, "after", 2)
    finally:
        cluster.teardown()


def test_a_worker_cut_off_and_back_stops_what_was_replaced(tmp_path, docker_engine, monkeypatch):
    cluster = Cluster(tmp_path)
    try:
        manager = cluster.init_manager()
        monkeypatch.setenv(FAULT_INJECTION_ENV, "1")  # the worker's executor obeys SIGUSR1 / SIGUSR2
        worker = cluster.join_worker("worker")
        monkeypatch.delenv(FAULT_INJECTION_ENV)
        wait_until(lambda: node_state(manager, worker) == "ready", 20, what="the worker ready")
        converges(manager, "split", 4)
        assert sum(1 for t in tasks(manager, "split") if t["NodeID"] == worker.node_id) == 2
        os.kill(actor_pid(worker, "executor"), signal.SIGUSR1)
        cut_at = time.monotonic()
        wait_until(lambda: node_state(manager, worker) == "down", 20, what="the worker marked down")
        down = time.monotonic() - cut_at
        wait_until(lambda: running_count(manager, "split") == 4 and all(
            t["NodeID"] == manager.node_id for t in tasks(manager, "split") if t["DesiredState"] == "running"),
            30, what="the worker's tasks replaced on the manager")
        replaced = time.monotonic() - cut_at
        assert len(containers("split")) == 6  # cut off, the worker still runs its two
        manager.shoal("service", "create", "--detach", "--name", "during", IMAGE, "sleep", "1000")
        os.kill(actor_pid(worker, "executor"), signal.SIGUSR2)
        healed_at = time.monotonic()
        wait_until(lambda: node_state(manager, worker) == "ready", 20, what="the worker ready again")
        no_duplicates(manager, {"split": 4, "during": 1})
        wait_until(lambda: all(t["Status"]["State"] != "running" for t in tasks(manager, "split")
                               if t["DesiredState"] != "running"), 20, what="the replaced tasks reported stopped")
        print(f"worker cut off: down after {down:.2f}s, tasks replaced after {replaced:.2f}s; back: "
              f"duplicates stopped {time.monotonic() - healed_at:.2f}s after it healed")
        converges(manager, "after", 2)
    finally:
        cluster.teardown()


def node_state(manager, host) -> str:
    """The host's node state as the managers have it."""
    return manager.json("node", "inspect", host.node_id)[0]["Status"]["State"]


class PrivateEngine:
    """A Docker engine of the test's own, which it may kill: its own data root, exec root, pid file and
    socket under ``root``, in a network namespace of its own (``unshare -n``: dockerd --bridge=none
    deletes any docker0 it can see, which would break the shared engine's containers)."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.url = f"unix://{root / 'docker.sock'}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        """Start dockerd and wait until it answers. After a kill -9 its first start may give up waiting
        for its containerd; then it is started again."""
        deadline = time.monotonic() + timeout
        while True:
            (self.root / "dockerd.pid").unlink(missing_ok=True)  # left behind by a kill -9
            with open(self.root / "dockerd.log", "ab") as log:
                self.process = subprocess.Popen(
                    ["unshare", "-n", "dockerd", "--data-root", str(self.root / "data"), "--exec-root",
                     str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"), "-H", self.url,
                     "--bridge=none", "--iptables=false", "--ip6tables=false"],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
            wait_until(lambda: self.process.poll() is not None or self.answers(), max(1.0, deadline - time.monotonic()),
                       interval=0.25, what="the private dockerd")
            if self.answers():
                return
            assert time.monotonic() < deadline, "the private dockerd did not start"

    def answers(self) -> bool:
        """True when the engine answers a ping."""
        try:
            with contextlib.closing(docker.DockerClient(base_url=self.url, timeout=2)) as client:
                return client.ping()
        except (docker.errors.DockerException, OSError):
            return False

    def load(self, image: str) -> None:
        """Copy ``image`` from the shared engine into this one (docker save | docker load)."""
        saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
        subprocess.run(["docker", "-H", self.url, "load"], input=saved, capture_output=True, check=True)

    def running(self, service: str) -> list:
        """This engine's running containers of ``service``."""
        with contextlib.closing(docker.DockerClient(base_url=self.url, timeout=30)) as client:
            return client.containers.list(filters={"label": f"shoal.service.name={service}"})

    def kill9(self) -> None:
        """SIGKILL dockerd (its containerd dies with it; the containers' shims live on)."""
        self.process.kill()
        self.process.wait()

    def remove(self) -> None:
        """Stop dockerd (its containers with it) and delete everything it kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self._leftovers():  # shims of containers the killed dockerd ran outlive it
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["umount", "-l", str(self.root / "data")], capture_output=True)  # dockerd's bind mount
        shutil.rmtree(self.root, ignore_errors=True)

    def _leftovers(self) -> list[int]:
        """Pids of the processes still naming this engine's directory on their command line."""
        found = []
        for entry in pathlib.Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(self.root).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # it exited meanwhile
                continue
        return found


def running_everywhere(service: str, engine: PrivateEngine) -> int:
    """Running containers of ``service`` in the shared engine and in ``engine``."""
    return len(containers(service)) + len(engine.running(service))


def test_the_docker_engine_under_a_worker_killed_and_restarted(tmp_path, docker_engine, monkeypatch):
    engine = PrivateEngine(pathlib.Path(tempfile.mkdtemp(prefix="shoal-engine-")))
    cluster = Cluster(tmp_path)
    try:
        engine.start()
        engine.load(IMAGE)
        manager = cluster.init_manager()
        monkeypatch.setenv("DOCKER_HOST", engine.url)  # the worker's executor uses the private engine
        worker = cluster.join_worker("worker")
        monkeypatch.delenv("DOCKER_HOST")
        wait_until(lambda: node_state(manager, worker) == "ready", 20, what="the worker ready")
        manager.shoal("service", "create", "--detach", "--name", "engine", "--replicas", "4", "--restart-delay", "1s",
                      IMAGE, "sleep", "1000")
        wait_until(lambda: running_count(manager, "engine") == 4 and running_everywhere("engine", engine) == 4, 60,
                   what="4 tasks running")
        assert len(engine.running("engine")) == 2
        executor = actor_pid(worker, "executor")
        engine.kill9()
        killed_at = time.monotonic()
        manager.shoal("service", "create", "--detach", "--name", "during", "--replicas", "2", IMAGE, "sleep", "1000")
        wait_until(lambda: log_lines(worker, "executor", "docker engine not answering"), 20,
                   what="the executor to notice the engine is gone")
        time.sleep(3)  # a few executor passes without an engine
        assert actor_pid(worker, "executor") == executor
        assert node_state(manager, worker) == "ready"
        on_worker = [t for t in tasks(manager, "engine") if t["NodeID"] == worker.node_id]
        assert all(t["Status"]["State"] == "running" for t in on_worker), "tasks reported failed while unreachable"
        # An executor that starts while the engine is away waits for it instead of crash-looping (without
        # an engine it opens no session, so the managers may mark the node down and replace its tasks).
        os.kill(executor, signal.SIGKILL)
        executor = wait_until(lambda: (pid := actor_pid_or_none(worker, "executor")) not in (None, executor) and pid,
                              20, what="the executor restarted by shoald")
        wait_until(lambda: len(log_lines(worker, "executor", "docker engine not answering")) == 2, 20,
                   what="the new executor to wait for the engine")
        time.sleep(3)
        assert actor_pid(worker, "executor") == executor
        engine.start()
        restarted_at = time.monotonic()
        wait_until(lambda: log_lines(worker, "executor", "docker engine answers again"), 20,
                   what="the executor to see the engine back")
        wait_until(lambda: all(running_count(manager, name) == replicas and running_everywhere(name, engine) == replicas
                               for name, replicas in (("engine", 4), ("during", 2))), 60,
                   what="every task running once, no duplicates")
        print(f"docker engine kill -9: restarted after {restarted_at - killed_at:.2f}s; every task running again "
              f"{time.monotonic() - restarted_at:.2f}s after the restart")
        assert len(log_lines(worker, "executor", "docker engine not answering")) == 2  # one per executor process
        assert actor_pid(worker, "executor") == executor
        manager.shoal("service", "create", "--detach", "--name", "after", "--replicas", "2", IMAGE, "sleep", "1000")
        wait_until(lambda: running_count(manager, "after") == 2 and running_everywhere("after", engine) == 2, 60,
                   what="a new service converging")
    finally:
        cluster.teardown()
        engine.remove()
