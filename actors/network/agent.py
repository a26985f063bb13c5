"""The host's network agent: hands each network state the dispatcher sends to the host's planes.

It lives in the executor process of a host with a real engine. Each
:class:`Plane` names the functions that bring what it programs in line with
a host network state (actors/network/hoststate.py) and that undo it at host
stop; :func:`host_planes` makes the host's planes, in the order they apply
(overlay, DNS, load balancing: each owner adds theirs there). Each apply
runs in a daemon thread, so the executor's loop never waits on netlink, nft
or a socket.

Only the latest state matters: a state that arrives while an older one is
being applied replaces it, and each plane is brought to the newest. Each
plane has a loop of its own: the planes that gate tasks (the overlay) take
each newest state first, the others once every gating plane has tried it
(they need its bridges), each at its own pace, so a slow plane never holds
up another's newer state. A plane that fails is tried again after a
back-off (doubling up to RETRY_MAX_SECONDS) while the others go ahead; a
newer state is tried at once. One log line per state applied (networks added and removed), one per
failure; metrics: networks programmed, seconds per apply, failures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Callable

from prometheus_client import Counter, Gauge, Histogram

from actors.common.threads import in_daemon_thread
from actors.network import dnsserver, loadbalancer
from actors.network.bridges import Bridges
from actors.network.overlayplane import OverlayPlane
from actors.network.hoststate import network_ids

RETRY_FIRST_SECONDS = 0.1
RETRY_MAX_SECONDS = 5.0
STOP_WAIT_SECONDS = 10.0  # at host stop, how long a plane's stop waits for its apply still running

PROGRAMMED = Gauge("shoal_network_networks_programmed", "Networks in the state every plane of this host applied")
APPLY_SECONDS = Histogram("shoal_network_apply_seconds", "Time one plane took to apply one host network state",
                          ["plane"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
FAILURES = Counter("shoal_network_apply_failures_total", "Host network states a plane failed to apply", ["plane"])

EMPTY = {"Networks": [], "Services": []}


@dataclasses.dataclass(frozen=True)
class Plane:
    """One part of what a host programs for its networks.

    ``apply(state)`` brings it in line with a host network state (idempotent,
    blocking, raises on failure); ``stop()`` undoes what must not outlive the
    host; ``gates_tasks``: a task's container cannot do without this plane
    (the overlay), so a task waits until this plane has its networks;
    ``follows_containers``: what it programs lives in the containers (VIP
    tables), so a container starting has it apply the newest state again
    (:meth:`NetworkAgent.containers_changed`); ``programmed()``: the ids of
    the networks the plane has in place now (called in the plane's thread
    after each apply, failed or not: a network that failed need not hold up
    the others' tasks); without it, the networks of the last state applied.
    """

    name: str
    apply: Callable[[dict], None]
    stop: Callable[[], None] = lambda: None
    gates_tasks: bool = False
    follows_containers: bool = False
    programmed: Callable[[], set[str]] | None = None


def host_planes(cluster_id: str, node_id: str, engine, data_addr: str) -> list[Plane]:
    """The planes of the host of node ``node_id`` in cluster ``cluster_id``, whose containers run on
    ``engine`` (a DockerEngine) and whose data address is ``data_addr``, started, in the order they apply."""
    overlay = OverlayPlane(Bridges(cluster_id, engine.docker_client), data_addr)
    names = dnsserver.DnsServer()
    names.start()
    balancer = loadbalancer.LoadBalancer(cluster_id, node_id, lambda: loadbalancer.running_pids(engine))
    return [Plane("overlay", overlay.apply, overlay.stop, gates_tasks=True, programmed=overlay.programmed),
            Plane("dns", names.apply, names.stop),
            Plane("loadbalancer", balancer.apply, balancer.stop, follows_containers=True)]


def _attempt(plane: Plane, state: dict, busy: threading.Lock) -> tuple[frozenset | None, Exception | None]:
    """Apply ``state`` to ``plane`` (blocking, holding ``busy``): (the networks it has in place after, None
    when unknown; the exception it raised, or None)."""
    try:
        with busy:
            plane.apply(state)
        error = None
    except Exception as exc:  # handed back: the agent reports it and tries again
        error = exc
    if plane.programmed is not None:
        return frozenset(plane.programmed()), error
    return (frozenset(network_ids(state)) if error is None else None), error


class NetworkAgent:
    """Applies the latest host network state to each plane, the gating planes first, retrying failed planes."""

    def __init__(self, log, planes: list[Plane] = (), on_change: Callable[[], None] = lambda: None):
        """Apply states to ``planes`` (see the module's docstring), logging with ``log``; ``on_change()`` is
        called on the event loop after each apply of a plane that gates tasks, whether it took the state or
        not (what :meth:`has_networks` and :meth:`failure` say may have changed)."""
        self._log = log
        self._planes = list(planes)
        self._wanted: dict | None = None  # the newest state received; None until the first
        self._released: dict | None = None  # the newest state every gating plane has tried: the others' turn
        self._tried: dict[str, dict] = {}  # gating plane name -> the last state it tried
        self._applied: dict[str, dict] = {plane.name: EMPTY for plane in self._planes}  # what each plane has
        self._errors: dict[str, str] = {}  # plane name -> why its last apply failed
        self._had: dict[str, frozenset] = {}  # plane name -> the networks it has in place (Plane.programmed)
        self._done = EMPTY  # the last state every plane applied
        self._wakes = {plane.name: asyncio.Event() for plane in self._planes}
        self._busy = {plane.name: threading.Lock() for plane in self._planes}  # held while a plane applies
        self._on_change = on_change

    def offer(self, state: dict) -> None:
        """Take ``state`` as the host's network state from now on (called on the event loop); the same
        state again (a new session's first push) changes nothing."""
        if state == self._wanted:
            return
        self._wanted = state
        self._wake(plane for plane in self._planes if plane.gates_tasks)
        self._release()

    def containers_changed(self) -> None:
        """A container of this node started, stopped or changed health: planes that follow containers
        apply the newest state again (called on the event loop)."""
        if self._wanted is None:
            return
        following = [plane for plane in self._planes if plane.follows_containers]
        for plane in following:
            self._applied[plane.name] = EMPTY
        self._wake(following)

    @property
    def state(self) -> dict | None:
        """The newest state received, None before the first."""
        return self._wanted

    def has_networks(self, ids) -> bool:
        """True when every network of ``ids`` is programmed by each plane that gates tasks (with no such
        plane: named in the newest state received)."""
        wanted = set(ids)
        gates = [plane for plane in self._planes if plane.gates_tasks]
        if not gates:
            return self._wanted is not None and wanted <= network_ids(self._wanted)
        return all(wanted <= self._had.get(plane.name, frozenset()) for plane in gates)

    def failure(self) -> str | None:
        """Why a plane that gates tasks failed its last apply, None when none did."""
        return next((f"{plane.name}: {self._errors[plane.name]}" for plane in self._planes
                     if plane.gates_tasks and plane.name in self._errors), None)

    async def run(self) -> None:
        """Apply each newest state to the planes until cancelled: each plane at its own pace, so a slow one
        (the load balancer enters every container) never holds up another's newer state."""
        await asyncio.gather(*(self._plane_loop(plane) for plane in self._planes))

    def _wake(self, planes) -> None:
        for plane in planes:
            self._wakes[plane.name].set()

    def _release(self) -> None:
        """Let the other planes have the newest state once every gating plane has tried it (what they
        program needs the overlay's bridges: a task's VIP table, the DNS server's addresses)."""
        if self._wanted is not None and all(self._tried.get(plane.name) is self._wanted
                                            for plane in self._planes if plane.gates_tasks):
            if self._released is not self._wanted:
                self._released = self._wanted
                self._wake(plane for plane in self._planes if not plane.gates_tasks)

    async def _plane_loop(self, plane: Plane) -> None:
        """Bring ``plane`` to its newest state whenever it lags, retrying after a back-off when it fails
        (at once when a newer state comes)."""
        wake, delay = self._wakes[plane.name], RETRY_FIRST_SECONDS
        while True:
            await wake.wait()
            wake.clear()
            state = self._wanted if plane.gates_tasks else self._released
            if state is None or self._applied[plane.name] is state:
                continue
            if await self._apply(plane, state):
                delay = RETRY_FIRST_SECONDS
                continue
            try:  # a newer state (or a container change) sets the event: tried at once
                await asyncio.wait_for(wake.wait(), delay)
            except asyncio.TimeoutError:
                wake.set()
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _apply(self, plane: Plane, state: dict) -> bool:
        """Apply ``state`` to ``plane`` in a thread of its own; True if it took it."""
        started = time.perf_counter()
        had, error = await in_daemon_thread(_attempt, plane, state, self._busy[plane.name], name=f"net-{plane.name}")
        APPLY_SECONDS.labels(plane.name).observe(time.perf_counter() - started)
        if had is not None:
            self._had[plane.name] = had
        if error is not None:  # a plane's failure is reported and retried, never fatal to the host
            FAILURES.labels(plane.name).inc()
            self._errors[plane.name] = str(error) or type(error).__name__
            self._log.warning("network plane failed", plane=plane.name, error=self._errors[plane.name])
        else:
            self._applied[plane.name] = state
            self._errors.pop(plane.name, None)
        if plane.gates_tasks:
            self._tried[plane.name] = state
            self._release()
            self._on_change()
        if all(applied is state for applied in self._applied.values()) and state is not self._done:
            if state != self._done:  # a first state that is empty is no change
                self._log_change(self._done, state)
            self._done = state
            PROGRAMMED.set(len(state["Networks"]))
        return error is None

    def _log_change(self, before: dict, after: dict) -> None:
        names = {network["ID"]: network["Name"] for network in before["Networks"] + after["Networks"]}
        added = sorted(names[i] for i in network_ids(after) - network_ids(before))
        removed = sorted(names[i] for i in network_ids(before) - network_ids(after))
        self._log.info("network state applied", networks=len(after["Networks"]), added=",".join(added) or "-",
                       removed=",".join(removed) or "-", services=len(after["Services"]),
                       tasks=sum(len(service["Tasks"]) for service in after["Services"]))

    async def stop(self) -> None:
        """Stop every plane, the last first, each once an apply still running in its thread (the agent's
        loops were cancelled, the thread was not) has ended, or STOP_WAIT_SECONDS have passed; a failure
        is logged."""
        for plane in reversed(self._planes):
            try:
                await in_daemon_thread(_stop, plane, self._busy[plane.name], name=f"net-{plane.name}")
            except Exception as exc:
                self._log.warning("network plane did not stop cleanly", plane=plane.name, error=str(exc))


def _stop(plane: Plane, busy: threading.Lock) -> None:
    """Stop ``plane`` (blocking) once it applies nothing, or after STOP_WAIT_SECONDS all the same."""
    waited = busy.acquire(timeout=STOP_WAIT_SECONDS)
    try:
        plane.stop()
    finally:
        if waited:
            busy.release()
