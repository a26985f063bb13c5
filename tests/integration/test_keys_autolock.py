"""The cluster's data key and autolock on real hosts, one module-scoped cluster made by ``swarm init --autolock``:
the data key handed to a promoted worker (never to a worker; a manager that joins: test_managers_e2e); a restarted manager locked until
``swarm unlock`` with the key of the last rotation; autolock turned off."""

from __future__ import annotations

import base64
import json
import os
import pty
import re
import select
import stat
import subprocess
import time

import pytest

from actors.common import autolock, datakey, sealing
from actors.common.hostconfig import LOCKED_MESSAGE
from tests.integration.cluster import SHOAL, Cluster, Host, free_base_port, wait_until

KEY = re.compile(r"SWMKEY-1-[A-Za-z0-9+/]+")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine):
    cluster = Cluster(tmp_path_factory.mktemp("keys"))
    try:
        port = free_base_port()
        manager = Host(cluster.root / "manager", port)
        cluster.hosts.append(manager)
        printed = manager.shoal("swarm", "init", "--autolock", "--advertise-addr", f"127.0.0.1:{port}").stdout
        cluster.unlock_key = KEY.search(printed).group(0)
        cluster.join("worker1", "worker")
        yield cluster
    finally:
        cluster.teardown()


def _cluster_id(host) -> str:
    return json.loads((host.state_dir / "host.json").read_text())["cluster_id"]


def _opens_with(host, unlock_key: str) -> datakey.DataKey | None:
    """The host's data key when its file is wrapped by ``unlock_key``, else None."""
    try:
        return datakey.unwrap(host.state_dir, _cluster_id(host), autolock.wrapping_key(autolock.parse(unlock_key)))
    except (sealing.SealError, datakey.DataKeyError):
        return None


def _shoal_with_input(host, text: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(host.command(SHOAL + ["--state-dir", str(host.state_dir), *args]), input=text,
                          capture_output=True, text=True, timeout=60)


def _read_terminal(terminal: int, until: bytes | None, timeout: float = 30) -> bytes:
    """What the terminal shows until ``until`` appears (None: until the command ends), at most ``timeout`` s."""
    shown, deadline = b"", time.monotonic() + timeout
    while (until is None or until not in shown) and time.monotonic() < deadline:
        if not select.select([terminal], [], [], deadline - time.monotonic())[0]:
            break
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # EIO: the command ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    return shown


def _unlock_at_the_prompt(host, key: str) -> tuple[int, str]:
    """Run ``shoal swarm unlock`` on a terminal (a pty), type ``key`` at its prompt; (exit code, what the
    terminal showed)."""
    pid, terminal = pty.fork()
    if pid == 0:
        try:
            os.execv(SHOAL[0], SHOAL + ["--state-dir", str(host.state_dir), "swarm", "unlock"])
        finally:
            os._exit(127)
    shown = _read_terminal(terminal, b"Enter unlock key: ")
    os.write(terminal, key.encode() + b"\r")
    shown += _read_terminal(terminal, None, timeout=90)  # unlock returns once the manager serves (up to 60 s)
    os.close(terminal)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), shown.decode(errors="replace")


def _restart(host) -> None:
    host.kill9()
    host.start_daemon()


def _wait_serving(host) -> None:
    wait_until(lambda: host.shoal("node", "ls", check=False).returncode == 0, 40, what="the manager to serve again")


def test_init_autolock_wraps_the_data_key_by_the_printed_key_and_a_worker_gets_none(cluster):
    manager, worker = cluster.hosts
    assert manager.shoal("swarm", "unlock-key", "-q").stdout.strip() == cluster.unlock_key
    shown = manager.shoal("swarm", "inspect").stdout
    assert "UnlockKey" not in shown and '"AutoLockManagers": true' in shown
    assert _opens_with(manager, cluster.unlock_key) is not None
    assert not manager.state_dir.joinpath(*datakey.KEK_FILE).exists()
    assert stat.S_IMODE(manager.state_dir.joinpath(*datakey.DATA_KEY_FILE).stat().st_mode) == 0o600
    assert datakey.wrapped_by(worker.state_dir) is None


def test_a_promoted_worker_gets_the_data_key_and_wraps_it_by_the_unlock_key_from_the_store(cluster):
    manager, worker = cluster.hosts
    manager.shoal("node", "promote", worker.node_id)
    key = wait_until(lambda: _opens_with(worker, cluster.unlock_key), 30, what="the promoted worker's wrapped key")
    assert key == _opens_with(manager, cluster.unlock_key)
    assert not worker.state_dir.joinpath(*datakey.KEK_FILE).exists()


def test_a_restarted_manager_is_locked_until_unlocked_with_the_key_of_the_last_rotation(cluster):
    manager = cluster.hosts[0]
    rotated = manager.shoal("swarm", "unlock-key", "--rotate")
    assert "Successfully rotated manager unlock key." in rotated.stdout
    old_key, new_key = cluster.unlock_key, KEY.search(rotated.stdout).group(0)
    assert new_key != old_key
    for host in cluster.hosts:  # every manager re-wraps its file by the new key
        wait_until(lambda: _opens_with(host, new_key), 20, what="the data key wrapped by the new key")
    _restart(manager)
    wait_until(lambda: (manager.state_dir / "unlock.sock").exists(), 20, what="the manager to be locked")
    refused = manager.shoal("service", "ls", check=False)
    assert refused.returncode == 1 and refused.stderr.strip() == f"Error: {LOCKED_MESSAGE}"
    assert len(manager.pids()) == 1, "a locked manager runs shoald and no actor"
    for wrong in (old_key, autolock.show(autolock.new_key())):  # (malformed keys: tests/unit/test_autolock.py)
        result = _shoal_with_input(manager, wrong + "\n", "swarm", "unlock")
        assert result.returncode == 1 and result.stderr.strip() == "Error: invalid key"
    assert (manager.state_dir / "unlock.sock").exists() and len(manager.pids()) == 1
    code, shown = _unlock_at_the_prompt(manager, new_key)  # on a terminal the key is asked for, not echoed
    assert code == 0 and new_key not in shown, shown
    cluster.unlock_key = new_key
    assert "not ready" not in shown
    assert manager.shoal("node", "ls", check=False).returncode == 0, "as Docker's, unlock returns once it serves"
    data_key = _opens_with(manager, new_key).key  # handed to the actors through a pipe: in no file, in no form
    for host in cluster.hosts:
        for path in (path for path in host.state_dir.rglob("*") if path.is_file()):
            content = path.read_bytes()
            assert not any(form in content for form in (data_key, data_key.hex().encode(), base64.b64encode(data_key))), path
    again = manager.shoal("swarm", "unlock", check=False)
    assert again.returncode == 1 and again.stderr.strip() == "Error: swarm is not locked"


def test_with_autolock_off_a_manager_restarts_without_a_key_and_on_again_prints_a_new_one(cluster):
    manager = cluster.hosts[0]
    assert manager.shoal("swarm", "update", "--autolock=false").stdout.strip() == "Swarm updated."
    for host in cluster.hosts:
        wait_until(lambda: datakey.wrapped_by(host.state_dir) == datakey.BY_KEK, 20, what="the data key wrapped by a kek")
    assert "no unlock key is set" in manager.shoal("swarm", "unlock-key", check=False).stderr
    rotate = manager.shoal("swarm", "unlock-key", "--rotate", check=False)  # Docker's words
    assert (rotate.returncode, rotate.stderr) == (1, "Error: cannot rotate because autolock is not turned on\n")
    _restart(manager)
    _wait_serving(manager)
    assert not (manager.state_dir / "unlock.sock").exists()
    printed = manager.shoal("swarm", "update", "--autolock").stdout
    cluster.unlock_key = KEY.search(printed).group(0)
    assert printed.startswith("Swarm updated.") and manager.shoal("swarm", "unlock-key", "-q").stdout.strip() == \
        cluster.unlock_key


def test_a_locked_manager_can_still_leave_with_force(cluster):
    manager = cluster.hosts[0]
    wait_until(lambda: _opens_with(manager, cluster.unlock_key), 20, what="the data key wrapped by the unlock key")
    _restart(manager)
    wait_until(lambda: (manager.state_dir / "unlock.sock").exists(), 20, what="the manager to be locked")
    assert manager.shoal("swarm", "leave", "--force").stdout.strip() == "Node left the swarm."
    assert not manager.pids() and [entry.name for entry in manager.state_dir.iterdir()] == ["logs"]
