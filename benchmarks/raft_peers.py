#!/usr/bin/env python3
"""Two peer Raft implementations measured on this machine, so that Shoal's own
Raft numbers can be reported beside theirs from the same run.

What is measured
----------------
etcd (Debian's etcd-server, 3.4), 3 members on 127.0.0.1, each with its own
data dir in a temp dir, static ``--initial-cluster``, Raft timings given by the
caller (benchmarks/raft.py passes Shoal's: heartbeat 30 ms, election timeout
300 ms) or etcd's defaults (heartbeat 100 ms, election timeout 1000 ms), and default durability (the WAL
is fsynced on every commit). It is driven over its HTTP/JSON gRPC gateway
(``POST <prefix>/kv/put``, base64 key and 10-byte value; the prefix, ``/v3``
on 3.4, else ``/v3beta`` or ``/v3alpha``, is probed at start), every client
aimed at the current leader:

* single client: sequential puts on one ``http.client`` keep-alive connection
  for at most 5 s or 20,000 ops; writes/s and p50/p99 latency;
* 64 clients (``clients_64``): 64 asyncio tasks in one thread, each with its
  own keep-alive raw socket speaking HTTP/1.1 by hand, for at most 10 s or
  5,000 ops per client; total writes/s. The same load from 64 threads with
  ``http.client`` (``clients_64_threads``) is measured too: on 2 cores that
  client burns about 0.6 of a core and measured 1.5-2x fewer writes/s here,
  so it shows the client more than etcd;
* leader failover: the leader is found with ``POST <prefix>/maintenance/status``
  on every member, killed with SIGKILL, and a put is started every 10 ms
  against the survivors (alternating, fresh connection, 0.5 s per-request
  timeout, up to 64 in flight, since a put to a follower that still believes
  in the dead leader hangs); the time from the kill to the first accepted put
  is one trial (at most 30 s). The killed member is restarted on its data dir
  and the next trial starts only when all three members answer ``/health``
  and agree on one leader.

PySyncObj 0.3.17 (pure-Python Raft, from PyPI), 3 members on 127.0.0.1, each in
its own process, a replicated counter. Its log lives in memory only: no
journal file, no fsync. Commands are issued on the leader process:

* non-blocking: 10-byte commands issued with a callback, at most 10,000 in
  flight, at most 5 s or 300,000 commands a run, 3 runs; committed/s counts
  the callbacks that report success, the median run is reported. (Far larger
  windows, 50,000+, made the leader lose leadership mid-run here.)
* single client: sequential blocking (``sync=True``) commands for at most 3 s
  or 2,000 ops; p50/p99 latency, once with the default config (batched
  append-entries every 100 ms, so about 100 ms per command) and once on a
  second cluster with ``appendEntriesUseBatch=False``.

Every result also carries the 1-minute load average at its start: other work
on this 2-core machine lowers these numbers, and the script warns when the
machine is busy before it starts.

Traffic rule
------------
Only loopback addresses (127.0.0.1) are ever targets. Every load loop is
bounded both in count and in time and stops by itself. Every process started
here runs in its own process group, asks the kernel to kill it if this script
dies (PR_SET_PDEATHSIG), and is killed (SIGKILL to the group) in a ``finally``
block, also on error or Ctrl-C; data dirs are temp dirs, removed at the end.

Usage::

    python3 benchmarks/raft_peers.py [--trials 20] [--json PATH] [--only etcd|pysyncobj]

``bench_etcd(trials)`` and ``bench_pysyncobj()`` can be imported and called by
another script; each returns the dict that goes under its key in the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import http.client
import json
import os
import platform
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

LOOPBACK = "127.0.0.1"
VALUE = b"0123456789"  # 10 bytes, for both systems

ETCD_MEMBERS = 3
ETCD_SINGLE_SECONDS = 5.0
ETCD_SINGLE_MAX_OPS = 20_000
ETCD_CLIENTS = 64
ETCD_CLIENTS_SECONDS = 10.0
ETCD_CLIENTS_MAX_OPS_EACH = 5_000
ETCD_REQUEST_TIMEOUT = 10.0
FAILOVER_RETRY_EVERY = 0.010
FAILOVER_ATTEMPT_TIMEOUT = 0.5
FAILOVER_MAX_IN_FLIGHT = 64
FAILOVER_LIMIT = 30.0
HEALTHY_LIMIT = 60.0

PYSYNCOBJ_VERSION = "0.3.17"
PSO_NONBLOCK_SECONDS = 5.0
PSO_NONBLOCK_MAX_OPS = 300_000
PSO_NONBLOCK_WINDOW = 10_000
PSO_NONBLOCK_RUNS = 3
PSO_SYNC_SECONDS = 3.0
PSO_SYNC_MAX_OPS = 2_000
PSO_READY_LIMIT = 30.0

_PR_SET_PDEATHSIG = 1
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


# --------------------------------------------------------------------------
# small helpers


def _die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGKILL to the child if this script dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _spawn(argv: list[str], log_path: str, **kwargs) -> subprocess.Popen:
    """Start ``argv`` in its own process group, stdout+stderr appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=kwargs.pop("stdout", log), stderr=log,
                                start_new_session=True, preexec_fn=_die_with_parent,
                                close_fds=True, **kwargs)


def _kill_group(proc: subprocess.Popen | None) -> None:
    """SIGKILL the process group led by ``proc`` and reap it (bounded wait)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        pass


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class _Conn(http.client.HTTPConnection):
    """Keep-alive HTTP/1.1 connection to 127.0.0.1 only, with TCP_NODELAY."""

    def __init__(self, port: int, timeout: float):
        super().__init__(LOOPBACK, port, timeout=timeout)

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.request(method, path, body, headers)
        resp = self.getresponse()
        return resp.status, resp.read()


# --------------------------------------------------------------------------
# etcd


class EtcdError(RuntimeError):
    """etcd did not do what the benchmark needs (start, answer, elect)."""


def _ensure_etcd() -> str:
    """Path of the etcd binary; installs Debian's etcd-server when it is missing."""
    path = shutil.which("etcd")
    if path:
        return path
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("etcd not on PATH: apt-get install -y etcd-server", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "etcd-server"], env=env, check=True,
                   timeout=900)
    path = shutil.which("etcd")
    if not path:
        raise EtcdError("etcd-server installed but no etcd on PATH")
    return path


def _put_body(key: str) -> bytes:
    return json.dumps({"key": _b64(key.encode()), "value": _b64(VALUE)}).encode()


def _put_ok(status: int, data: bytes) -> bool:
    return status == 200 and b'"header"' in data and b'"error"' not in data


class _EtcdCluster:
    """Three etcd members on 127.0.0.1 with free ports and temp data dirs."""

    def __init__(self, binary: str, size: int = ETCD_MEMBERS, timing_ms: tuple[int, int] | None = None):
        """``timing_ms`` is ``(heartbeat, election timeout)`` in milliseconds; None keeps etcd's defaults."""
        self.binary = binary
        self.timing_ms = timing_ms
        self.size = size
        self.tmp = tempfile.mkdtemp(prefix="raft_peers_etcd_")
        ports = _free_ports(2 * size)
        self.client_ports = ports[:size]
        self.peer_ports = ports[size:]
        self.names = [f"m{i}" for i in range(size)]
        self.procs: list[subprocess.Popen | None] = [None] * size
        self.prefix = "/v3"
        self.ids: dict[str, int] = {}  # member_id (decimal string) -> index
        self.initial_cluster = ",".join(
            f"{n}=http://{LOOPBACK}:{p}" for n, p in zip(self.names, self.peer_ports))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        if platform.machine() not in ("x86_64", "AMD64", "ppc64le", "s390x"):
            env["ETCD_UNSUPPORTED_ARCH"] = {"aarch64": "arm64"}.get(platform.machine(),
                                                                    platform.machine())
        self.env = env

    def log(self, i: int) -> str:
        return os.path.join(self.tmp, f"{self.names[i]}.log")

    def start_member(self, i: int) -> None:
        """Start member ``i`` (again) on its own data dir; the flags never change."""
        cp, pp = self.client_ports[i], self.peer_ports[i]
        argv = [
            self.binary,
            "--name", self.names[i],
            "--data-dir", os.path.join(self.tmp, self.names[i]),
            "--listen-client-urls", f"http://{LOOPBACK}:{cp}",
            "--advertise-client-urls", f"http://{LOOPBACK}:{cp}",
            "--listen-peer-urls", f"http://{LOOPBACK}:{pp}",
            "--initial-advertise-peer-urls", f"http://{LOOPBACK}:{pp}",
            "--initial-cluster", self.initial_cluster,
            "--initial-cluster-state", "new",
            "--initial-cluster-token", "raft-peers-bench",
            "--logger", "zap",
        ]
        if self.timing_ms is not None:
            argv += ["--heartbeat-interval", str(self.timing_ms[0]), "--election-timeout", str(self.timing_ms[1])]
        self.procs[i] = _spawn(argv, self.log(i), env=self.env, cwd=self.tmp,
                               stdin=subprocess.DEVNULL)

    def kill_member(self, i: int) -> None:
        _kill_group(self.procs[i])
        self.procs[i] = None

    def close(self) -> None:
        for i in range(self.size):
            self.kill_member(i)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, i: int, method: str, path: str, body: dict | None = None,
             timeout: float = 1.0) -> tuple[int, bytes]:
        """One request on a fresh connection to member ``i``."""
        conn = _Conn(self.client_ports[i], timeout)
        try:
            return conn.call(method, path, None if body is None else json.dumps(body).encode())
        finally:
            conn.close()

    def status(self, i: int) -> dict | None:
        """``maintenance/status`` of member ``i``, or None when it does not answer."""
        try:
            code, data = self.call(i, "POST", self.prefix + "/maintenance/status", {}, 1.0)
        except (OSError, http.client.HTTPException):
            return None
        if code != 200:
            return None
        return json.loads(data)

    def healthy(self, i: int) -> bool:
        try:
            code, data = self.call(i, "GET", "/health", None, 1.0)
        except (OSError, http.client.HTTPException):
            return False
        try:
            return code == 200 and json.loads(data).get("health") == "true"
        except ValueError:
            return False

    def wait_healthy(self, limit: float = HEALTHY_LIMIT) -> int:
        """Wait until every member is healthy and all agree on one leader; its index."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for i, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None:
                    raise EtcdError(f"etcd {self.names[i]} exited with {proc.returncode}:\n"
                                    + _tail(self.log(i)))
            if all(self.healthy(i) for i in range(self.size)):
                statuses = [self.status(i) for i in range(self.size)]
                if all(statuses):
                    for i, st in enumerate(statuses):
                        self.ids[st["header"]["member_id"]] = i
                    leaders = {st.get("leader") for st in statuses}
                    if len(leaders) == 1:
                        leader = leaders.pop()
                        if leader in self.ids:
                            return self.ids[leader]
            time.sleep(0.05)
        raise EtcdError("etcd cluster not healthy within %.0f s:\n%s" % (
            limit, "\n".join(_tail(self.log(i), 5) for i in range(self.size))))

    def probe_prefix(self) -> str:
        """The gateway prefix that accepts a put (``/v3`` on 3.4, else ``/v3beta``)."""
        for prefix in ("/v3", "/v3beta", "/v3alpha"):
            try:
                code, data = self.call(0, "POST", prefix + "/kv/put",
                                       {"key": _b64(b"probe"), "value": _b64(VALUE)}, 10.0)
            except (OSError, http.client.HTTPException):
                continue
            if _put_ok(code, data):
                self.prefix = prefix
                return prefix
        raise EtcdError("no gRPC gateway prefix accepted a put")

    def version(self) -> str:
        try:
            code, data = self.call(0, "GET", "/version", None, 2.0)
            if code == 200:
                return json.loads(data)["etcdserver"]
        except (OSError, http.client.HTTPException, KeyError, ValueError):
            pass
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
        return out.split("\n")[0].rsplit(" ", 1)[-1]


def _etcd_single(cluster: _EtcdCluster, leader: int) -> dict:
    """Sequential puts from one keep-alive connection to the leader."""
    port, path = cluster.client_ports[leader], cluster.prefix + "/kv/put"
    bodies = [_put_body(f"bench/single/{k:04d}") for k in range(1000)]
    conn = _Conn(port, ETCD_REQUEST_TIMEOUT)
    latencies: list[float] = []
    errors = 0
    try:
        for k in range(50):  # warm-up, not counted
            conn.call("POST", path, bodies[k])
        cpu0 = time.process_time()
        start = time.perf_counter()
        deadline = start + ETCD_SINGLE_SECONDS
        now = start
        while len(latencies) < ETCD_SINGLE_MAX_OPS and now < deadline:
            t = now
            code, data = conn.call("POST", path, bodies[len(latencies) % 1000])
            now = time.perf_counter()
            if _put_ok(code, data):
                latencies.append(now - t)
            else:
                errors += 1
                if errors > 100:
                    raise EtcdError(f"single client: put failed: {code} {data[:200]!r}")
        elapsed = now - start
        cpu = time.process_time() - cpu0
    finally:
        conn.close()
    return {"writes_per_s": len(latencies) / elapsed, "ops": len(latencies), "errors": errors,
            "seconds": elapsed, "client_cpu_s": cpu, "p50_ms": 1e3 * percentile(latencies, 50),
            "p99_ms": 1e3 * percentile(latencies, 99), "target": "leader"}


def _tally(n: int, ok: bool, took: float, counts: list[int], errors: list[int], lat: list[list[float]]) -> bool:
    """Count one put of client ``n`` (its latency when it succeeded); False once the client has
    failed more than 100 times and should stop."""
    if ok:
        counts[n] += 1
        lat[n].append(took)
        return True
    errors[n] += 1
    return errors[n] <= 100


def _etcd_clients(cluster: _EtcdCluster, leader: int, clients: int = ETCD_CLIENTS) -> dict:
    """``clients`` threads, each with its own keep-alive connection to the leader."""
    port, path = cluster.client_ports[leader], cluster.prefix + "/kv/put"
    barrier = threading.Barrier(clients + 1, timeout=60)
    go = threading.Event()
    stop_at = [0.0]
    counts = [0] * clients
    errors = [0] * clients
    lat: list[list[float]] = [[] for _ in range(clients)]
    finished = [0.0] * clients
    failures: list[str] = []

    def worker(n: int) -> None:
        bodies = [_put_body(f"bench/c{n:02d}/{k:03d}") for k in range(100)]
        conn = _Conn(port, ETCD_REQUEST_TIMEOUT)
        try:
            conn.call("POST", path, bodies[0])  # connect + warm-up
            barrier.wait()
            if not go.wait(60):
                return
            deadline = stop_at[0]
            now = time.perf_counter()
            while counts[n] < ETCD_CLIENTS_MAX_OPS_EACH and now < deadline:
                t = now
                code, data = conn.call("POST", path, bodies[counts[n] % 100])
                now = time.perf_counter()
                if not _tally(n, _put_ok(code, data), now - t, counts, errors, lat):
                    break
            finished[n] = now
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"client {n}: {exc!r}")
            finished[n] = time.perf_counter()
            try:
                barrier.abort()
            except threading.BrokenBarrierError:
                pass
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    try:
        barrier.wait()  # every client connected and warmed up
    except threading.BrokenBarrierError:
        pass
    cpu0 = time.process_time()
    start = time.perf_counter()
    stop_at[0] = start + ETCD_CLIENTS_SECONDS
    go.set()
    for t in threads:
        t.join(ETCD_CLIENTS_SECONDS + ETCD_REQUEST_TIMEOUT + 5)
    cpu = time.process_time() - cpu0
    if failures:
        raise EtcdError(f"{len(failures)} of {clients} clients failed; first: {failures[0]}")
    elapsed = max(finished) - start
    all_lat = [x for per in lat for x in per]
    total = sum(counts)
    return {"writes_per_s": total / elapsed, "ops": total, "errors": sum(errors),
            "seconds": elapsed, "client_cpu_s": cpu, "clients": clients, "p50_ms": 1e3 * percentile(all_lat, 50),
            "p99_ms": 1e3 * percentile(all_lat, 99), "client_model": "threads, http.client",
            "target": "leader"}


def _etcd_clients_asyncio(cluster: _EtcdCluster, leader: int,
                          clients: int = ETCD_CLIENTS) -> dict:
    """``clients`` asyncio tasks in one thread, each with its own keep-alive raw
    socket to the leader, speaking HTTP/1.1 by hand (much less client CPU per
    put than http.client in threads, which on 2 cores competes with etcd)."""
    port, path = cluster.client_ports[leader], cluster.prefix + "/kv/put"

    def request(key: str) -> bytes:
        body = _put_body(key)
        return (f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body

    async def put(reader, writer, req: bytes) -> bool:
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise EtcdError(f"gateway answer without Content-Length: {head[:200]!r}")
        data = await reader.readexactly(length)
        return head.startswith(b"HTTP/1.1 200") and _put_ok(200, data)

    async def run() -> tuple[list[int], list[int], list[list[float]], float, float, float]:
        counts, errors = [0] * clients, [0] * clients
        lat: list[list[float]] = [[] for _ in range(clients)]
        go = asyncio.Event()
        bounds = [0.0]
        connected = [0]
        all_connected = asyncio.Event()

        async def worker(n: int) -> float:
            reqs = [request(f"bench/a{n:02d}/{k:03d}") for k in range(100)]
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
            try:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await put(reader, writer, reqs[0])  # connect + warm-up
                connected[0] += 1
                if connected[0] == clients:
                    all_connected.set()
                await go.wait()
                deadline = bounds[0]
                now = time.perf_counter()
                while counts[n] < ETCD_CLIENTS_MAX_OPS_EACH and now < deadline:
                    t = now
                    ok = await put(reader, writer, reqs[counts[n] % 100])
                    now = time.perf_counter()
                    if not _tally(n, ok, now - t, counts, errors, lat):
                        break
                return now
            finally:
                writer.close()

        tasks = [asyncio.create_task(worker(n)) for n in range(clients)]
        try:
            await asyncio.wait_for(all_connected.wait(), 60)
            cpu0 = time.process_time()
            start = time.perf_counter()
            bounds[0] = start + ETCD_CLIENTS_SECONDS
            go.set()
            ends = await asyncio.wait_for(asyncio.gather(*tasks),
                                          ETCD_CLIENTS_SECONDS + ETCD_REQUEST_TIMEOUT + 5)
        finally:
            for task in tasks:
                task.cancel()
        return counts, errors, lat, start, max(ends), time.process_time() - cpu0

    try:
        counts, errors, lat, start, end, cpu = asyncio.run(run())
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        raise EtcdError(f"asyncio clients failed: {exc!r}") from exc
    elapsed = end - start
    all_lat = [x for per in lat for x in per]
    total = sum(counts)
    return {"writes_per_s": total / elapsed, "ops": total, "errors": sum(errors),
            "seconds": elapsed, "client_cpu_s": cpu, "clients": clients,
            "p50_ms": 1e3 * percentile(all_lat, 50), "p99_ms": 1e3 * percentile(all_lat, 99),
            "client_model": "asyncio, raw sockets, one thread", "target": "leader"}


def _etcd_failover_trial(cluster: _EtcdCluster, trial: int) -> float:
    """Kill the leader, time the first accepted put on a survivor, restart it."""
    leader = cluster.wait_healthy()
    survivors = [i for i in range(cluster.size) if i != leader]
    path = cluster.prefix + "/kv/put"
    done = threading.Event()
    lock = threading.Lock()
    result: list[float] = []
    in_flight = threading.BoundedSemaphore(FAILOVER_MAX_IN_FLIGHT)

    def attempt(i: int, n: int, t0: float) -> None:
        try:
            conn = _Conn(cluster.client_ports[i], FAILOVER_ATTEMPT_TIMEOUT)
            try:
                code, data = conn.call("POST", path, _put_body(f"bench/failover/{trial}/{n}"))
            finally:
                conn.close()
            if _put_ok(code, data):
                t = time.monotonic()
                with lock:
                    if not result:
                        result.append(t - t0)
                done.set()
        except (OSError, http.client.HTTPException):
            pass
        finally:
            in_flight.release()

    with ThreadPoolExecutor(max_workers=FAILOVER_MAX_IN_FLIGHT) as pool:
        t0 = time.monotonic()
        cluster.kill_member(leader)
        n = 0
        while not done.is_set() and time.monotonic() - t0 < FAILOVER_LIMIT:
            if in_flight.acquire(blocking=False):
                pool.submit(attempt, survivors[n % len(survivors)], n, t0)
                n += 1
            done.wait(FAILOVER_RETRY_EVERY)
        done.set()
    cluster.start_member(leader)
    if not result:
        raise EtcdError(f"failover trial {trial}: no put accepted within {FAILOVER_LIMIT:.0f} s")
    cluster.wait_healthy()
    return result[0]


def bench_etcd(trials: int = 20, timing_ms: tuple[int, int] | None = None) -> dict:
    """Benchmark a 3-member etcd 3.4 cluster on 127.0.0.1 and return the results.

    Installs Debian's etcd-server if ``etcd`` is not on PATH, starts 3 members
    with temp data dirs, and always kills them and removes the dirs before
    returning or raising. Returns::

        {"version": str, "gateway_prefix": str,
         "single_client": {"writes_per_s", "p50_ms", "p99_ms", "ops", ...},
         "clients_64": {"writes_per_s", "p50_ms", "p99_ms", "ops", "client_cpu_s",
                        "client_model": "asyncio, raw sockets, one thread", ...},
         "clients_64_threads": {same keys, 64 threads with http.client},
         "failover_s": [``trials`` floats, seconds from SIGKILL of the leader
                        to the first put accepted by a survivor],
         "failover_summary": {"p50_s", "p99_s", "max_s", ...},
         "loadavg_1m_at_start": float, "runtime_s": float}

    Raises ``EtcdError`` when the cluster does not start or stops answering.
    """
    began = time.monotonic()
    load_at_start = os.getloadavg()[0]
    binary = _ensure_etcd()
    cluster = _EtcdCluster(binary, timing_ms=timing_ms)
    try:
        for i in range(cluster.size):
            cluster.start_member(i)
        cluster.wait_healthy()
        prefix = cluster.probe_prefix()
        out: dict = {"version": cluster.version(), "gateway_prefix": prefix,
                     "loadavg_1m_at_start": load_at_start,
                     "members": cluster.size, "fsync": True,
                     "raft_timing": (f"heartbeat {timing_ms[0]} ms, election timeout {timing_ms[1]} ms" if timing_ms
                                     else "defaults: heartbeat 100 ms, election timeout 1000 ms")}
        leader = cluster.wait_healthy()
        out["single_client"] = _etcd_single(cluster, leader)
        leader = cluster.wait_healthy()
        out["clients_64"] = _etcd_clients_asyncio(cluster, leader)
        leader = cluster.wait_healthy()
        out["clients_64_threads"] = _etcd_clients(cluster, leader)
        times = []
        for trial in range(trials):
            times.append(_etcd_failover_trial(cluster, trial))
        out["failover_s"] = times
        out["failover_summary"] = {
            "trials": len(times), "p50_s": percentile(times, 50), "p99_s": percentile(times, 99),
            "max_s": max(times) if times else float("nan"),
            "note": "nearest-rank percentiles; with fewer than 100 trials p99 is the maximum",
            "retry_every_s": FAILOVER_RETRY_EVERY, "attempt_timeout_s": FAILOVER_ATTEMPT_TIMEOUT}
        out["runtime_s"] = time.monotonic() - began
        return out
    finally:
        cluster.close()


# --------------------------------------------------------------------------
# PySyncObj


class PySyncObjError(RuntimeError):
    """The PySyncObj cluster did not start or a member stopped answering."""


def _ensure_pysyncobj() -> None:
    """Install pysyncobj==0.3.17 with this interpreter's pip unless it is there."""
    try:
        from pysyncobj.version import VERSION
        if VERSION == PYSYNCOBJ_VERSION:
            return
    except ImportError:
        pass
    print(f"pip install pysyncobj=={PYSYNCOBJ_VERSION}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"pysyncobj=={PYSYNCOBJ_VERSION}"], check=True, timeout=600)


def _pso_member_main(index: int, ports: list[int], batch: bool) -> None:
    """Body of one PySyncObj member process; talks JSON lines on stdin/stdout.

    Prints ``{"ready": ...}`` once it knows a leader and has caught up, then
    answers ``nonblock``, ``sync``, ``stats`` and ``quit`` commands. Exits on
    ``quit`` or when stdin closes (the parent went away).
    """
    from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

    class Counter(SyncObj):
        def __init__(self, self_addr, others, conf):
            super().__init__(self_addr, others, conf)
            self.count = 0
            self.nbytes = 0

        @replicated
        def add(self, payload):
            self.count += 1
            self.nbytes += len(payload)
            return self.count

    addrs = [f"{LOOPBACK}:{p}" for p in ports]
    me = addrs[index]
    obj = Counter(me, [a for a in addrs if a != me], SyncObjConf(
        dynamicMembershipChange=False, appendEntriesUseBatch=batch))

    def send(doc: dict) -> None:
        sys.stdout.write("@@" + json.dumps(doc) + "\n")
        sys.stdout.flush()

    deadline = time.monotonic() + PSO_READY_LIMIT
    while time.monotonic() < deadline:
        if obj._getLeader() is not None and obj.isReady():
            break
        time.sleep(0.01)
    leader = obj._getLeader()
    send({"ready": leader is not None, "self": me,
          "leader": None if leader is None else str(leader.address)})

    for line in sys.stdin:
        cmd = json.loads(line)
        kind = cmd["cmd"]
        if kind == "quit":
            break
        if kind == "stats":
            send({"count": obj.count, "nbytes": obj.nbytes, "is_leader": obj._isLeader()})
        elif kind == "nonblock":
            window = threading.BoundedSemaphore(cmd["window"])
            lock = threading.Lock()
            tally = {"ok": 0, "err": 0, "last": 0.0}
            all_back = threading.Event()
            issued = 0

            def callback(result, error):
                now = time.perf_counter()
                with lock:
                    if error == FAIL_REASON.SUCCESS:
                        tally["ok"] += 1
                        tally["last"] = now
                    else:
                        tally["err"] += 1
                        codes[str(error)] = codes.get(str(error), 0) + 1
                    if tally["ok"] + tally["err"] == issued_box[0] and stop_issuing.is_set():
                        all_back.set()
                window.release()

            issued_box = [0]
            codes: dict[str, int] = {}
            stop_issuing = threading.Event()
            start = time.perf_counter()
            stop = start + cmd["seconds"]
            while issued < cmd["max_ops"] and time.perf_counter() < stop:
                if not window.acquire(timeout=1.0):
                    continue
                with lock:
                    issued += 1
                    issued_box[0] = issued
                obj.add(VALUE, callback=callback)
            issue_end = time.perf_counter()
            with lock:
                stop_issuing.set()
                if tally["ok"] + tally["err"] == issued:
                    all_back.set()
            all_back.wait(30.0)
            with lock:
                ok, err, last = tally["ok"], tally["err"], tally["last"]
            elapsed = (last if ok else time.perf_counter()) - start
            send({"issued": issued, "ok": ok, "err": err, "error_codes": codes,
                  "seconds": elapsed,
                  "issue_seconds": issue_end - start, "committed_per_s": ok / elapsed,
                  "is_leader": obj._isLeader()})
        elif kind == "sync":
            latencies = []
            errors = 0
            start = time.perf_counter()
            stop = start + cmd["seconds"]
            now = start
            while len(latencies) < cmd["max_ops"] and now < stop:
                t = now
                try:
                    obj.add(VALUE, sync=True, timeout=5.0)
                    ok = True
                except Exception:  # noqa: BLE001 - counted
                    ok = False
                now = time.perf_counter()
                if ok:
                    latencies.append(now - t)
                else:
                    errors += 1
                    if errors > 20:
                        break
            send({"ops": len(latencies), "errors": errors, "seconds": now - start,
                  "p50_ms": 1e3 * percentile(latencies, 50),
                  "p99_ms": 1e3 * percentile(latencies, 99),
                  "ops_per_s": len(latencies) / max(now - start, 1e-9)})
    obj.destroy()


class _PsoMember:
    """Parent's handle on one PySyncObj member process."""

    def __init__(self, index: int, ports: list[int], tmp: str, batch: bool):
        self.log = os.path.join(tmp, f"pso{index}{'' if batch else '-unbatched'}.log")
        self.lines: queue.Queue = queue.Queue()
        self.proc = _spawn([sys.executable, os.path.abspath(__file__), "--_pysyncobj-member",
                            str(index), ",".join(map(str, ports)), str(int(batch))], self.log,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tmp)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            if line.startswith("@@"):
                self.lines.put(json.loads(line[2:]))
        self.lines.put(None)

    def send(self, doc: dict) -> None:
        self.proc.stdin.write((json.dumps(doc) + "\n").encode())
        self.proc.stdin.flush()

    def reply(self, timeout: float) -> dict:
        try:
            doc = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise PySyncObjError(f"member gave no answer in {timeout:.0f} s:\n{_tail(self.log)}")
        if doc is None:
            raise PySyncObjError(f"member exited ({self.proc.poll()}):\n{_tail(self.log)}")
        return doc

    def ask(self, doc: dict, timeout: float) -> dict:
        self.send(doc)
        return self.reply(timeout)


def _pso_cluster_run(tmp: str, batch: bool, jobs: list[dict]) -> tuple[list[dict], list[int]]:
    """Start 3 members (``appendEntriesUseBatch=batch``), send ``jobs`` to the
    leader one after the other, return their answers and each member's applied
    count. The members are always killed before returning or raising."""
    members: list[_PsoMember] = []
    try:
        ports = _free_ports(3)
        members = [_PsoMember(i, ports, tmp, batch) for i in range(3)]
        ready = [m.reply(PSO_READY_LIMIT + 15) for m in members]
        leaders = {r["leader"] for r in ready}
        if not all(r["ready"] for r in ready) or len(leaders) != 1:
            raise PySyncObjError(f"no agreed leader: {ready}")
        leader_addr = leaders.pop()
        leader = next(m for m, r in zip(members, ready) if r["self"] == leader_addr)
        answers = [leader.ask(job, job["seconds"] + 60) for job in jobs]
        # followers apply what the leader committed (sanity check), bounded wait
        deadline = time.monotonic() + 10
        while True:
            counts = [m.ask({"cmd": "stats"}, 10)["count"] for m in members]
            if len(set(counts)) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for m in members:
            try:
                m.send({"cmd": "quit"})
            except OSError:
                pass
        for m in members:
            try:
                m.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return answers, counts
    finally:
        for m in members:
            _kill_group(m.proc)


def bench_pysyncobj() -> dict:
    """Benchmark a 3-member PySyncObj 0.3.17 cluster on 127.0.0.1 and return the results.

    Installs pysyncobj==0.3.17 with pip if needed, runs each member in its own
    process (in-memory log, no fsync), issues commands on the leader process,
    and always kills the members and removes the temp dir before returning or
    raising. Two clusters are started one after the other:

    * default ``SyncObjConf`` (``appendEntriesUseBatch=True``): 3 non-blocking
      runs (10-byte commands with a callback, at most 10,000 in flight, 5 s or
      300,000 commands each), then sequential blocking commands;
    * ``appendEntriesUseBatch=False`` (PySyncObj's latency setting): sequential
      blocking commands only.

    Returns::

        {"version": "0.3.17", "fsync": False,
         "nonblocking_commits_per_s": float,   # median of the 3 runs; successful callbacks / s
         "nonblocking_runs": [{"issued", "ok", "err", "error_codes", "seconds",
                               "committed_per_s", "is_leader", ...} x 3],
         "single_client_p50_ms": float,        # default config (batched)
         "single_client_p99_ms": float,
         "single_client": {"ops", "ops_per_s", "p50_ms", "p99_ms", ...},
         "single_client_unbatched_p50_ms": float,
         "single_client_unbatched": {...},
         "replicas_applied": [count on each member, default cluster],
         "loadavg_1m_at_start": float, "runtime_s": float}

    Raises ``PySyncObjError`` when a cluster does not elect a leader or a
    member stops answering.
    """
    began = time.monotonic()
    load_at_start = os.getloadavg()[0]
    _ensure_pysyncobj()
    from pysyncobj.version import VERSION

    tmp = tempfile.mkdtemp(prefix="raft_peers_pso_")
    nonblock = {"cmd": "nonblock", "max_ops": PSO_NONBLOCK_MAX_OPS,
                "seconds": PSO_NONBLOCK_SECONDS, "window": PSO_NONBLOCK_WINDOW}
    sync = {"cmd": "sync", "max_ops": PSO_SYNC_MAX_OPS, "seconds": PSO_SYNC_SECONDS}
    try:
        answers, counts = _pso_cluster_run(tmp, True, [nonblock] * PSO_NONBLOCK_RUNS + [sync])
        runs, batched = answers[:-1], answers[-1]
        for run in runs:
            run["window"] = PSO_NONBLOCK_WINDOW
        (unbatched,), _ = _pso_cluster_run(tmp, False, [sync])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rates = sorted(run["committed_per_s"] for run in runs)
    return {"version": VERSION, "fsync": False, "members": 3,
            "loadavg_1m_at_start": load_at_start,
            "storage": "in-memory log, no journal file, no fsync",
            "nonblocking_commits_per_s": rates[len(rates) // 2],
            "nonblocking_runs": runs,
            "single_client_p50_ms": batched["p50_ms"], "single_client_p99_ms": batched["p99_ms"],
            "single_client": batched,
            "single_client_unbatched_p50_ms": unbatched["p50_ms"],
            "single_client_unbatched": unbatched,
            "replicas_applied": counts,
            "config": "SyncObjConf defaults (appendEntriesUseBatch=True, appendEntriesPeriod "
                      "100 ms, autoTickPeriod 50 ms); unbatched = appendEntriesUseBatch=False",
            "issued_on": "leader process", "runtime_s": time.monotonic() - began}


# --------------------------------------------------------------------------
# report


def _table(results: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []
    e = results.get("etcd")
    if e:
        name = f"etcd {e['version']}"
        s, c, f = e["single_client"], e["clients_64"], e["failover_summary"]
        ct = e["clients_64_threads"]
        rows += [
            (name, "single client writes/s", f"{s['writes_per_s']:,.0f}",
             f"{s['ops']} puts in {s['seconds']:.1f} s, to leader, WAL fsync"),
            (name, "single client p50 / p99", f"{s['p50_ms']:.2f} / {s['p99_ms']:.2f} ms", ""),
            (name, "64 clients writes/s", f"{c['writes_per_s']:,.0f}",
             f"{c['ops']} puts in {c['seconds']:.1f} s, asyncio raw sockets, "
             f"p50 {c['p50_ms']:.1f} ms, client CPU {c['client_cpu_s'] / c['seconds']:.0%}"),
            (name, "64 clients writes/s (threads)", f"{ct['writes_per_s']:,.0f}",
             f"{ct['ops']} puts in {ct['seconds']:.1f} s, 64 threads + http.client, "
             f"p50 {ct['p50_ms']:.1f} ms, client CPU {ct['client_cpu_s'] / ct['seconds']:.0%}"),
            (name, "failover p50", f"{f['p50_s']:.3f} s",
             f"{f['trials']} trials, kill -9 leader -> first accepted put"),
            (name, "failover p99", f"{f['p99_s']:.3f} s",
             "= max (fewer than 100 trials)" if f["trials"] < 100 else "nearest rank"),
            (name, "failover max", f"{f['max_s']:.3f} s", ""),
        ]
    p = results.get("pysyncobj")
    if p:
        name = f"PySyncObj {p['version']}"
        runs, sc, su = p["nonblocking_runs"], p["single_client"], p["single_client_unbatched"]
        runs_txt = " / ".join(f"{r['committed_per_s']:,.0f}" for r in runs)
        lost = [r for r in runs if r["err"] or not r["is_leader"] or r["ok"] < r["issued"]]
        rows += [
            (name, "non-blocking commits/s", f"{p['nonblocking_commits_per_s']:,.0f}",
             f"median of {len(runs)} runs ({runs_txt}), 10-byte, in-memory log, NO fsync"),
            (name, "sequential blocking p50 / p99",
             f"{sc['p50_ms']:.2f} / {sc['p99_ms']:.2f} ms",
             f"default batching: {sc['ops']} ops, {sc['ops_per_s']:,.0f}/s"),
            (name, "sequential blocking p50 / p99",
             f"{su['p50_ms']:.2f} / {su['p99_ms']:.2f} ms",
             f"appendEntriesUseBatch=False: {su['ops']} ops, {su['ops_per_s']:,.0f}/s"),
        ]
        if lost:
            rows.append((name, "WARNING", f"{len(lost)} run(s)",
                         "had failed/missing callbacks or lost leadership; see JSON"))
    widths = [max(len(r[k]) for r in rows + [("system", "metric", "value", "notes")])
              for k in range(4)]
    fmt = "  ".join("{:<%d}" % w for w in widths[:3]) + "  {}"
    lines = [fmt.format("system", "metric", "value", "notes"),
             fmt.format(*("-" * w for w in widths[:3]), "-" * widths[3])]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def _on_signal(signum, frame):
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt so every ``finally`` cleans up."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="etcd failover trials (20)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--only", choices=["etcd", "pysyncobj"], help="run one system only")
    parser.add_argument("--_pysyncobj-member", nargs=3, metavar=("INDEX", "PORTS", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._pysyncobj_member:
        index, ports, batch = args._pysyncobj_member
        _pso_member_main(int(index), [int(p) for p in ports.split(",")], batch == "1")
        return 0
    if args.trials < 1:
        parser.error("--trials must be at least 1")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # even if inherited as ignored
        signal.signal(sig, _on_signal)
    began = time.monotonic()
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"WARNING: 1-minute load average is {load:.1f} on {os.cpu_count()} cores before "
              "the start: other work on this machine will lower these numbers", flush=True)
    results: dict = {}
    if args.only in (None, "etcd"):
        print(f"etcd: 3 members on {LOOPBACK}, single client, 64 clients, "
              f"{args.trials} failover trials ...", flush=True)
        results["etcd"] = bench_etcd(args.trials)
    if args.only in (None, "pysyncobj"):
        print(f"PySyncObj: 3 member processes on {LOOPBACK} ...", flush=True)
        results["pysyncobj"] = bench_pysyncobj()
    print()
    print(_table(results))
    if "etcd" in results:
        print("etcd failover s: " + " ".join(f"{t:.3f}" for t in results["etcd"]["failover_s"]))
    print(f"total runtime {time.monotonic() - began:.1f} s on {os.cpu_count()} cores; "
          f"1-minute load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
