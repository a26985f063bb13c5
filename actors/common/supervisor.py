"""Supervision of a host's actors: one child process per actor, restarted with back-off.

``bin/shoald`` runs :func:`supervise` in the foreground; the CLI uses
:func:`spawn_daemon`/:func:`stop_daemon` to run it in the background. Children
get SIGTERM when the supervisor dies (PR_SET_PDEATHSIG), so even a kill -9 of
the supervisor leaves no orphan actor behind.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from actors.common import actormetrics, datakey, files, unlocking
from actors.common.backoff import Backoff
from actors.common.hostconfig import SUPERVISOR, HostConfig, actor_arguments
from actors.common.log import Logger

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def actor_command(name: str, state_dir: pathlib.Path) -> list[str]:
    """The command line that runs actor process ``name`` (of ``HostConfig.actors``) of the host in ``state_dir``."""
    return [sys.executable, str(REPO_ROOT / "bin" / "shoal-actor"), *actor_arguments(name), "--state-dir", str(state_dir)]


@dataclasses.dataclass
class _Child:
    name: str
    backoff: Backoff
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0


def _start(child: _Child, state_dir: pathlib.Path, log: Logger, data_key: datakey.DataKey | None) -> None:
    """Start ``child``; an actor that holds the data key gets it through an inherited pipe, never a file."""
    handed = []
    if data_key is not None and actor_arguments(child.name)[0] in datakey.DATA_KEY_ACTORS:
        handed.append(datakey.handoff(data_key))
    log_file = open(state_dir / "logs" / f"{child.name}.log", "ab")
    try:
        child.process = subprocess.Popen(
            actor_command(child.name, state_dir), stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent, cwd=str(REPO_ROOT), pass_fds=handed,
            env={**os.environ, datakey.HANDOFF_ENV: str(handed[0])} if handed else None)
    finally:
        log_file.close()
        for fd in handed:
            os.close(fd)
    child.started_at = time.monotonic()
    actormetrics.started(child.name, restart=child.restarts > 0)
    log.info("actor started", actor_name=child.name, pid=child.process.pid, restarts=child.restarts)


def supervise(state_dir: pathlib.Path) -> int:
    """Run and keep running every actor of the host in ``state_dir`` until SIGTERM/SIGINT.

    Files are made private first (umask 077, and group and other bits removed from whatever the
    state directory already holds: a host made by an older version).

    A manager's data key is read first; under autolock the manager is locked (no actor runs) until
    ``shoal swarm unlock`` gives the key on the unlock socket (actors/common/unlocking.py). shoald keeps
    the data key in memory and hands it to the actors that hold it (datakey.DATA_KEY_ACTORS).

    A crashed actor is restarted after its back-off delay. SIGHUP re-reads
    host.json and brings the set of actors in line with the host's role (a
    promoted worker gains the manager actors; a demoted manager loses them and
    its Raft state). On SIGTERM/SIGINT every child gets SIGTERM, then SIGKILL
    after 10 s; returns 0 once all are gone.
    """
    log = Logger("shoald")
    files.private_files()
    config = HostConfig.load(state_dir)
    refused = actormetrics.serve(config)
    if refused:
        log.warning("cannot serve metrics", port=config.metrics_port(SUPERVISOR), error=refused)
    opened = files.tighten(state_dir)
    if opened:
        log.warning("closed files that group or others could read", count=len(opened), state_dir=str(state_dir))
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    (state_dir / "shoald.pid").write_text(str(os.getpid()))
    stopping, reloading = [], []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    signal.signal(signal.SIGHUP, lambda *_: reloading.append(True))
    children: list[_Child] = []
    log.info("supervising", node=config.node_id, role=config.role, actors=",".join(config.actors))
    try:
        data_key = _data_key(config, log, stopping)
        if stopping:
            return 0
        _reconcile_children(children, config, state_dir, log, data_key)
        while not stopping:
            if reloading:
                reloading.clear()
                config = HostConfig.load(state_dir)
                log.info("reloading", node=config.node_id, role=config.role, actors=",".join(config.actors))
                data_key = (data_key or _data_key(config, log)) if config.is_manager else None
                _reconcile_children(children, config, state_dir, log, data_key)
            _reap_and_restart(children, state_dir, log, data_key)
            time.sleep(0.05)
    finally:
        _stop_all(children, log)
        _remove_pid_file(state_dir)
    return 0


def _data_key(config: HostConfig, log: Logger, stopping: list | None = None) -> datakey.DataKey | None:
    """The data key of manager ``config`` (None on a worker). A locked manager waits for its unlock when
    ``stopping`` is given (at start), else stays without (a reload); a manager with no readable data key
    runs without one (the actors that need it say why they cannot start)."""
    if not config.is_manager:
        return None
    try:
        return datakey.load(config.state_dir, config.cluster_id)
    except datakey.Locked:
        if stopping is None:
            log.warning("the data key is locked: not unlocked at a reload")
            return None
        return unlocking.wait_for_unlock(config, stopping, log)
    except datakey.DataKeyError as exc:
        log.warning("no data key", error=str(exc))
        return None


def _reconcile_children(children: list[_Child], config: HostConfig, state_dir: pathlib.Path, log: Logger,
                        data_key: datakey.DataKey | None) -> None:
    """Stop the children the host's role no longer has, start the ones it lacks (in place)."""
    unwanted = [child for child in children if child.name not in config.actors]
    _stop_all(unwanted, log)
    for child in unwanted:
        actormetrics.removed(child.name)
    children[:] = [child for child in children if child.name in config.actors]
    if not config.is_manager:
        shutil.rmtree(state_dir / "raft", ignore_errors=True)  # a later promotion starts from an empty log
        datakey.forget(state_dir)  # workers never hold the data key
    running = {child.name for child in children}
    for name in config.actors:
        if name not in running:
            child = _Child(name, Backoff())
            children.append(child)
            _start(child, state_dir, log, data_key)


def _reap_and_restart(children: list[_Child], state_dir: pathlib.Path, log: Logger,
                      data_key: datakey.DataKey | None) -> None:
    now = time.monotonic()
    for child in children:
        if child.process is not None and child.process.poll() is not None:
            delay = child.backoff.delay_after_exit(now - child.started_at)
            log.warning("actor exited", actor_name=child.name, code=child.process.returncode, restart_in=f"{delay:.2f}s")
            actormetrics.exited(child.name)
            child.process, child.restart_at = None, now + delay
        if child.process is None and now >= child.restart_at:
            child.restarts += 1
            _start(child, state_dir, log, data_key)


def _stop_all(children: list[_Child], log: Logger) -> None:
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + 10
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.info("all actors stopped", count=len(running))


def _remove_pid_file(state_dir: pathlib.Path) -> None:
    try:
        (state_dir / "shoald.pid").unlink()
    except FileNotFoundError:
        pass


def daemon_pid(state_dir: pathlib.Path) -> int | None:
    """Pid of the running supervisor of ``state_dir``, or None when it is not running."""
    try:
        pid = int((state_dir / "shoald.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_live_shoald(pid) else None


def _is_live_shoald(pid: int) -> bool:
    """True when ``pid`` is a running (not zombie) shoald: a stale pid file may name a reused pid."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and b"shoald" in cmdline


def spawn_daemon(state_dir: pathlib.Path) -> int:
    """Start ``bin/shoald`` for ``state_dir`` detached from this process; returns its pid."""
    state_dir = pathlib.Path(state_dir).resolve()
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    log_file = open(state_dir / "logs" / "shoald.log", "ab")
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "bin" / "shoald"), "--state-dir", str(state_dir)],
                               stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL,
                               start_new_session=True, cwd=str(REPO_ROOT))
    log_file.close()
    return process.pid


def reload_daemon(state_dir: pathlib.Path) -> bool:
    """Ask the supervisor of ``state_dir`` to re-read host.json (SIGHUP); False when none runs."""
    pid = daemon_pid(pathlib.Path(state_dir))
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


def stop_daemon(state_dir: pathlib.Path, timeout: float = 15.0) -> bool:
    """SIGTERM the supervisor of ``state_dir`` and wait up to ``timeout`` s; True once it is gone."""
    pid = daemon_pid(pathlib.Path(state_dir))
    if pid is None:
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap_if_child(pid)
        if not _is_live_shoald(pid):
            return True
        time.sleep(0.05)
    return False


def _reap_if_child(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
