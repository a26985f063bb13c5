"""Faults, not just bad input: each test ends with every acknowledged write present, no duplicate
containers, and the cluster converging a new service."""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from tests.integration.cluster import IMAGE, Cluster, containers, running_count, wait_until


def actor_pid(host, actor: str) -> int:
    """Pid of ``actor`` of ``host`` (the one process running ``shoal-actor ACTOR --state-dir DIR``)."""
    for pid in host.pids():
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            parts = cmdline.read().split(b"\0")
        if b"shoal-actor" in b" ".join(parts) and actor.encode() in parts:
            return pid
    raise AssertionError(f"no {actor} process for {host.state_dir}")


def log_lines(host, actor: str, text: str) -> list[str]:
    """Lines of the actor's log that contain ``text``."""
    path = host.state_dir / "logs" / f"{actor}.log"
    return [line for line in path.read_text(errors="replace").splitlines() if text in line]


def converges(manager, name: str, replicas: int) -> None:
    """Create service ``name`` and wait until exactly ``replicas`` containers of it run."""
    manager.shoal("service", "create", "--detach", "--name", name, "--replicas", str(replicas), IMAGE, "sleep", "1000")
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
