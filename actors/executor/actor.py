"""The executor actor: a worker host's side of the dispatcher protocol, and the Docker IO.

It opens a session with a manager's dispatcher (failing over to another
manager when that one stops answering or closes the connection), heartbeats, switches the host's
role when the cluster promotes or demotes it, receives the node's assignment set, and on every assignment change, Docker event or
periodic check runs the pure core (core.py) against the containers it
observes, and sends the resulting status reports in one batch. The data of a
task's secrets and configs is fetched from the dispatcher (``task_data``)
when the core asks for it, and kept in memory only until the task's Create
hands it to the engine adapter (a tmpfs per task on a real host).

Engine actions run concurrently, at most one per task and ACTIONS_IN_FLIGHT
per lane (stops apart from starts), each in a daemon thread of its own: a
pass never waits for them, so a container that takes its whole stop grace
period to die delays neither other tasks nor the actor's exit. An action's
reports go with the next pass, which its end triggers.
"""

from __future__ import annotations

import asyncio
import threading
import time

import zmq
from prometheus_client import Counter, Gauge, Histogram

from actors.common import datakey, supervisor
from actors.common.actor import ActorContext
from actors.common.faults import DispatcherCut
from actors.common.outage import Outage
from actors.common.series import start_at_zero
from actors.common.threads import in_daemon_thread
from actors.common.hostconfig import ManagerAddress
from actors.executor import core, linkwatch, logs, membership, netwait, taskfiles
from actors.executor.engine import DockerEngine, EngineError, EngineUnavailable
from actors.network import hoststate
from actors.network.agent import NetworkAgent, host_planes
from transport import limits
from transport.rpc import RpcClient, RpcError, RpcTimeout

RESYNC_SECONDS = 2.0
EVENT_FOLLOW_UPS = (0.05, 0.2)
SESSION_RETRY_SECONDS = 0.5
ENGINE_RETRY_SECONDS = 1.0
FETCH_TIMEOUT = 5.0  # seconds for a task_data request
FETCH_RETRY_SECONDS = 1.0  # a fetch the dispatcher could not answer yet is asked again this much later
LOG_READS = 4  # logs requests read at once (each in a thread of its own)
ACTIONS_IN_FLIGHT = 16  # engine actions per lane (core.lane) at once on one node: a batch of 10 stops at once

ASSIGNED = Gauge("shoal_executor_assigned_tasks", "Tasks assigned to this node")
ACTIONS = Counter("shoal_executor_actions_total", "Engine actions performed", ["action", "outcome"])
PASS_SECONDS = Histogram("shoal_executor_pass_seconds", "One executor pass: observe, decide, act",
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
HEARTBEATS = Counter("shoal_executor_heartbeats_total", "Heartbeats sent", ["outcome"])
SESSIONS = Counter("shoal_executor_sessions_total", "Sessions opened with a dispatcher")
FETCHES = Counter("shoal_executor_task_data_fetches_total",
                  "Fetches of a task's secrets and configs from the dispatcher, by outcome (ok or the error code)",
                  ["outcome"])
PUSHES_LOST = Counter("shoal_executor_pushes_lost_total", "Assignment pushes dropped incomplete (asked for again)")
ENGINE_UP = Gauge("shoal_executor_engine_up", "1 while the Docker engine answers, 0 while it cannot be reached")
start_at_zero(ACTIONS, ("create", "start", "stop", "remove", "dropfiles"), ("ok", "unavailable", "error"))
start_at_zero(HEARTBEATS, ("ok", "timeout", "unknown_session"))
start_at_zero(FETCHES, ("ok", "timeout", "not_found", "permission_denied"))


class Executor:
    """Runs the node's assigned tasks as containers and reports their state."""

    def __init__(self, actor: ActorContext, engine=None):
        """Serve the node of ``actor``'s host with ``engine`` (DockerEngine's interface; by default the
        local Docker engine; simulated nodes pass a simengine.SimEngine)."""
        self._actor = actor
        self._log = actor.log
        self._node_id = actor.config.node_id
        self._engine = engine if engine is not None else DockerEngine(self._node_id)
        self._in_flight: dict[str, asyncio.Task] = {}  # task id -> its engine action, while it runs
        self._ended: set[str] = set()  # tasks whose action ended during the current pass's observation
        self._lanes = {lane: asyncio.Semaphore(ACTIONS_IN_FLIGHT) for lane in (core.STOPS, core.STARTS)}
        self._outcomes: dict[str, dict] = {}  # reports of ended actions, sent with the next pass
        self._fetched: dict[str, tuple] = {}  # task id -> its secret and config files, until its Create ran
        self._assigned: dict[str, dict] | None = None  # None until the first assignment set arrives
        self._reported: dict[str, dict] = {}
        self._stopping: dict[str, float] = {}  # core.stopping_since, on the monotonic clock
        self._dirty = asyncio.Event()
        self._session_id: str | None = None
        self._pushes_lost = self._pushes_resynced = 0  # assignment pushes dropped / asked for again
        self._period = 0.25
        self._rpc: RpcClient | None = None
        self._attempt = 0
        self._dispatcher_host: str | None = None
        self._dispatcher: str | None = None  # the name of the dispatcher process talked to
        self._link: linkwatch.LinkWatch | None = None
        self._link_lost: asyncio.Task | None = None  # ends when the dispatcher closes the current link
        self._cut = DispatcherCut(self._log)  # fault injection (tests): cut off from the managers
        self._engine_outage = Outage()
        # Only a host with a real engine programs networks (simulated nodes share this process by the hundred).
        planes = host_planes(actor.config.cluster_id, self._node_id, self._engine, actor.config.addr) \
            if engine is None else []
        self._network = NetworkAgent(self._log, planes, on_change=self._dirty.set)
        if engine is None:
            self._engine.network_state = lambda: self._network.state
        self._network_waits: dict[str, float] = {}  # netwait.gate_creates: tasks waiting for their networks
        self._log_reads = asyncio.Semaphore(LOG_READS)

    async def run(self) -> None:
        """Serve the node until cancelled."""
        self._connect()
        self._cut.install()
        loop = asyncio.get_running_loop()
        stop_events = threading.Event()
        watcher = threading.Thread(target=self._engine.watch_events, name="engine-events", daemon=True,
                                   args=(lambda task_id: loop.call_soon_threadsafe(self._on_engine_event, task_id), stop_events))
        watcher.start()
        try:
            await asyncio.gather(self._session_loop(), self._work_loop(), self._network.run())
        finally:
            stop_events.set()
            await self._network.stop()

    def _connect(self, chosen: membership.Dispatcher | None = None) -> None:
        """Open the link to ``chosen``, by default the next dispatcher to try (membership.dispatcher_order)."""
        if chosen is None:
            order = membership.dispatcher_order(self._actor.config.managers, self._node_id)
            chosen = order[self._attempt % len(order)]
        manager = chosen.manager
        self._dispatcher_host, self._dispatcher = manager.node_id, chosen.name
        if self._link_lost is not None:
            self._link_lost.cancel()
        if self._rpc is not None:
            self._rpc.close()
        sock = self._actor.connect(zmq.DEALER, chosen.endpoint(), manager.public_key.encode())
        self._link = linkwatch.LinkWatch(sock)
        self._link_lost = asyncio.ensure_future(self._link.lost())
        self._rpc = RpcClient(sock, f"dispatcher {chosen.name} at {chosen.endpoint()}",
                              on_push=self._on_push, on_push_lost=self._on_push_lost)
        self._log.info("dispatcher chosen", dispatcher=chosen.name, endpoint=chosen.endpoint())

    def _fail_over(self) -> None:
        self._session_id = None
        self._attempt += 1
        self._connect()

    async def _on_news(self, reply: dict) -> None:
        """Take in what the dispatcher says about the managers and this host's role (a promotion waits until
        the host holds the cluster's data key)."""
        self._period = reply.get("heartbeat_period", self._period)
        config = self._actor.config
        managers = [ManagerAddress(**m) for m in reply.get("managers") or []]
        switch = membership.role_switch(config.role, reply.get("role"), bool(reply.get("raft_member")))
        if switch == "manager" and not await self._fetch_data_key(managers or config.managers):
            switch = None  # asked again at the next heartbeat
        if switch is not None:
            own = ManagerAddress(self._node_id, config.addr, config.port, self._actor.keypair.public_text)
            config.role, config.managers = switch, membership.managers_after_switch(managers or config.managers, own, switch)
            config.initial_voters = []
            config.save()
            self._log.info("host role switched", node=self._node_id, role=switch)
            supervisor.reload_daemon(config.state_dir)
        elif managers and managers != config.managers and (not config.is_manager or self._node_id in
                                                           {m.node_id for m in managers}):
            better = membership.newly_preferred(config.managers, managers, self._dispatcher, self._node_id)
            config.managers = managers
            config.save()
            self._log.info("managers changed", managers=",".join(m.node_id for m in managers))
            if better is not None:  # a dispatcher started that this host would pick: spread the load onto it
                self._session_id, self._attempt = None, 0
                self._connect(better)
        if config.is_manager and reply.get("role") == "worker" and self._dispatcher_host == self._node_id:
            # Once Raft removes this manager its own store stops following the cluster, so its own
            # dispatcher would never see the removal: hear about it from another manager.
            self._fail_over()

    async def _fetch_data_key(self, managers: list[ManagerAddress]) -> bool:
        """Ask the manager of this host's dispatcher (over CURVE, with the host key, which the store now has as
        a manager's) for the cluster's data key and keep it wrapped on disk; False, logged, when it could not."""
        config = self._actor.config
        manager = next((m for m in managers if m.node_id == self._dispatcher_host), managers[0])
        rpc = RpcClient(self._actor.connect(zmq.DEALER, manager.endpoint("join"), manager.public_key.encode()),
                        f"manager {manager.node_id}")
        try:
            reply = await rpc.call("data_key", {}, timeout=2.0)
            datakey.store_with_kek(config.state_dir, config.cluster_id, datakey.from_wire(reply.get("data_key")))
        except (RpcError, datakey.DataKeyError) as exc:
            self._log.warning("cannot fetch the data key to become a manager", manager=manager.node_id, error=str(exc))
            return False
        finally:
            rpc.close()
        return True

    # -- session -------------------------------------------------------------
    async def _session_loop(self) -> None:
        """Open a session, then heartbeat; open a new one whenever the dispatcher forgets us."""
        description = await self._description()
        while True:
            if self._session_id is None:
                try:
                    reply = await self._call_on_link("session", {"node_id": self._node_id, "description": description,
                                                                 "addr": self._actor.config.addr}, timeout=2.0)
                except RpcError as exc:
                    self._log.warning("cannot open session", error=str(exc))
                    await asyncio.sleep(SESSION_RETRY_SECONDS)
                    self._fail_over()
                    continue
                self._session_id = reply["session_id"]
                self._link.established()
                await self._on_news(reply)
                SESSIONS.inc()
                self._log.info("session opened", node=self._node_id, session=self._session_id)
                self._reported.clear()  # a new dispatcher may have missed reports: send them again
                self._dirty.set()
            await asyncio.wait({self._link_lost}, timeout=self._period)  # the next beat, or at once on a lost link
            try:
                lost = self._pushes_lost
                beat = {"node_id": self._node_id, "session_id": self._session_id}
                if lost != self._pushes_resynced:
                    beat["resync"] = True  # an assignment push was lost: ask for the whole set again
                reply = await self._call_on_link("heartbeat", beat, timeout=max(1.0, self._period * 4))
                self._pushes_resynced = lost
                HEARTBEATS.labels("ok").inc()
            except RpcError as exc:
                HEARTBEATS.labels(exc.code).inc()
                self._log.warning("heartbeat failed", error=str(exc))
                if exc.code == "unknown_session":
                    self._session_id = None  # the dispatcher restarted: open a new session with it
                else:
                    self._fail_over()
                continue
            await self._on_news(reply)

    async def _answer_logs(self, body: dict) -> None:
        """Read the output the dispatcher asked for (logs.read_request, at most LOG_READS at once, in a thread)
        and send it back as ``logs_reply``; a reply that cannot be sent is dropped (the control API warns)."""
        async with self._log_reads:
            try:
                tasks = await in_daemon_thread(logs.read_request, self._engine, body, time.time_ns(), name="logs")
            except (KeyError, TypeError, ValueError) as exc:
                self._log.warning("bad logs request", error=str(exc))
                tasks = []
        try:
            await self._call_on_link("logs_reply", {"node_id": self._node_id, "session_id": self._session_id,
                                                    "request": body.get("request"), "tasks": tasks},
                                     timeout=limits.LOG_NODE_SECONDS)
        except RpcError as exc:
            self._log.info("logs reply not delivered", error=str(exc))

    async def _call_on_link(self, kind: str, body, timeout: float):
        """:meth:`_call`, given up as RpcError ``unavailable`` as soon as the dispatcher closes the link
        (see linkwatch.py), or at once when it already has."""
        link_lost = self._link_lost
        call = asyncio.ensure_future(self._call(kind, body, timeout))
        done, _ = await asyncio.wait({call, link_lost}, return_when=asyncio.FIRST_COMPLETED)
        if call in done or link_lost.cancelled():
            return await call
        call.cancel()
        raise RpcError("unavailable", f"dispatcher {self._dispatcher} closed the connection")

    async def _call(self, kind: str, body, timeout: float):
        """Call the dispatcher; while cut off (fault injection), time out as an unreachable one would."""
        if self._cut.cut:
            await asyncio.sleep(timeout)
            raise RpcTimeout(f"no answer from the dispatcher within {timeout:g}s (cut off by fault injection)")
        rpc = self._rpc
        try:
            return await rpc.call(kind, body, timeout=timeout)
        except zmq.ZMQError as exc:
            if rpc is self._rpc:
                raise
            # The session loop failed over meanwhile and closed this call's socket under it.
            raise RpcError("unavailable", f"the link to the dispatcher was replaced during the call ({exc})") from None

    async def _description(self) -> dict:
        """This node's engine description, waiting for the engine while it cannot be reached."""
        while True:
            try:
                description = await self._in_thread(self._engine.engine_description)
            except EngineError as exc:
                self._engine_failed(exc)
                await asyncio.sleep(ENGINE_RETRY_SECONDS)
                continue
            self._engine_answered()
            return description

    def _engine_failed(self, error: EngineError) -> None:
        """Note that the engine failed a request; one log line when it stops answering."""
        ENGINE_UP.set(0)
        if self._engine_outage.failed(error):
            self._log.error("docker engine not answering: waiting for it; tasks keep their last reported state",
                            node=self._node_id, error=str(error))

    def _engine_answered(self) -> None:
        ENGINE_UP.set(1)
        if self._engine_outage.succeeded():
            self._log.info("docker engine answers again", node=self._node_id)

    def _on_push(self, kind: str, body) -> None:
        if self._cut.cut:
            return
        if kind == "network_state" and isinstance(body, dict) and isinstance(body.get("items"), list):
            try:
                self._network.offer(hoststate.from_items(body["items"]))
            except ValueError as exc:
                self._log.warning("ignored network state", error=str(exc))
            return
        if kind == "logs" and isinstance(body, dict) and isinstance(body.get("tasks"), list):
            asyncio.ensure_future(self._answer_logs(body))
            return
        if kind != "assignments" or not isinstance(body, dict) or not isinstance(body.get("tasks"), list):
            self._log.warning("ignored push", kind=kind)
            return
        self._assigned = {task["ID"]: task for task in body["tasks"]}
        ASSIGNED.set(len(self._assigned))
        self._dirty.set()

    def _on_push_lost(self) -> None:
        PUSHES_LOST.inc()
        self._pushes_lost += 1

    def _on_engine_event(self, task_id: str) -> None:
        """Look at the containers now and again shortly: the engine emits ``die``
        before its container list shows the container as exited."""
        self._log.debug("engine event", task=task_id)
        self._dirty.set()
        self._network.containers_changed()  # a new container gets its VIP table without waiting for a state
        loop = asyncio.get_running_loop()
        for delay in EVENT_FOLLOW_UPS:
            loop.call_later(delay, self._dirty.set)

    # -- work ----------------------------------------------------------------
    async def _work_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._dirty.wait(), RESYNC_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._dirty.clear()
            if self._assigned is None:
                continue
            started = time.perf_counter()
            await self._pass()
            PASS_SECONDS.observe(time.perf_counter() - started)

    async def _pass(self) -> None:
        """Observe containers, decide, launch the engine actions of idle tasks, report: one round."""
        busy_before = set(self._in_flight)
        self._ended.clear()
        outcomes, self._outcomes = self._outcomes, {}
        if outcomes:  # what finished actions saw goes out first: listing many changed containers takes a while
            await self._report(outcomes)
        try:
            observed, with_files = await self._in_thread(self._observe)
        except EngineError as exc:
            self._engine_failed(exc)
            return
        self._engine_answered()
        assigned = list(self._assigned.values())
        held = self._draining(assigned)
        self._fetched = core.fetched_kept(self._fetched, self._assigned)
        decided = core.decide(assigned, observed, {**self._reported, **self._outcomes}, time.time(), held,
                              self._fetched, with_files)
        reports, actions = core.startable(decided, busy_before | set(self._in_flight) | self._ended)
        actions, refused, self._network_waits = netwait.gate_creates(
            actions, self._network.has_networks, self._network.failure(), self._network_waits, time.monotonic(),
            time.time())
        reports += refused
        self._log.debug("pass", containers=len(observed), actions=" ".join(type(a).__name__ + ":" + a.task_id[:6] for a in actions))
        for action in actions:
            self._in_flight[action.task_id] = asyncio.create_task(self._act(action))
        if reports:
            await self._report({report.task_id: report.status for report in reports})

    def _observe(self) -> tuple[list[core.ObservedContainer], frozenset[str]]:
        """The node's containers and the tasks whose files are on the host (in a thread: both block)."""
        return self._engine.list_containers(), self._engine.task_files()

    def _draining(self, assigned: list[dict]) -> frozenset[str]:
        """The tasks whose stop waits while hosts drop them from rotation (core.draining); a pass is due
        when the newly seen ones have drained."""
        now = time.monotonic()
        since = core.stopping_since(assigned, self._stopping, now)
        if set(since) - set(self._stopping):
            asyncio.get_running_loop().call_later(core.DRAIN_SECONDS + 0.01, self._dirty.set)  # not a hair early
        self._stopping = since
        return core.draining(since, now)

    async def _act(self, action) -> None:
        """Run one action (a fetch, or an engine action within its lane's bound); queue its reports and
        wake the work loop. A Create's fetched data is forgotten once it ran."""
        try:
            if isinstance(action, core.Fetch):
                outcome = await self._fetch(action)
            else:
                async with self._lanes[core.lane(action)]:
                    outcome = await self._in_thread(self._perform, action)
            self._outcomes.update((report.task_id, report.status) for report in outcome)
        finally:
            if isinstance(action, core.Create):
                self._fetched.pop(action.task_id, None)
            del self._in_flight[action.task_id]
            self._ended.add(action.task_id)
            self._dirty.set()

    async def _fetch(self, action: core.Fetch) -> list[core.Report]:
        """Ask the dispatcher for the data of the task's secrets and configs and keep its files in memory
        for the task's Create; returns the reports of a refusal (core.fetch_failure_reports). A fetch to
        be asked again keeps the task busy FETCH_RETRY_SECONDS first."""
        try:
            if self._session_id is None:
                raise RpcError("unknown_session", "no session with a dispatcher yet")
            reply = await self._call_on_link("task_data", {"node_id": self._node_id, "session_id": self._session_id,
                                                           "task_id": action.task_id}, timeout=FETCH_TIMEOUT)
            self._fetched[action.task_id] = taskfiles.files(action.task, reply)
            FETCHES.labels("ok").inc()
            return []
        except RpcError as exc:
            code, message = exc.code, str(exc)
        except taskfiles.FilesError as exc:
            code, message = "invalid", str(exc)
        FETCHES.labels(code).inc()
        self._log.warning("task data not fetched", task=action.task_id, code=code, error=message)
        reports = core.fetch_failure_reports(action.task_id, code, message, time.time())
        if not reports:
            await asyncio.sleep(FETCH_RETRY_SECONDS)
        return reports

    def _perform(self, action) -> list:
        """Run one engine action (in a thread of its own); returns Reports describing its outcome."""
        name = type(action).__name__.lower()
        try:
            outcome = core.perform(action, self._engine, time.time())
            ACTIONS.labels(name, "ok").inc()
            return outcome
        except EngineUnavailable as exc:
            # Nothing was done: decided again once the engine is back, never reported as a task failure.
            ACTIONS.labels(name, "unavailable").inc()
            self._engine_failed(exc)
            return []
        except EngineError as exc:
            ACTIONS.labels(name, "error").inc()
            self._log.warning("engine action failed", action=name, task=getattr(action, "task_id", ""), error=str(exc))
            return core.failure_reports(action, str(exc), time.time())

    async def _report(self, reports: dict[str, dict]) -> None:
        """Send ``reports`` in requests of at most STATUS_REPORTS_PER_REQUEST, which the dispatcher accepts."""
        items = list(reports.items())
        for start in range(0, len(items), limits.STATUS_REPORTS_PER_REQUEST):
            batch = dict(items[start:start + limits.STATUS_REPORTS_PER_REQUEST])
            try:
                await self._call("status", {"node_id": self._node_id, "updates": batch}, timeout=3.0)
            except RpcError as exc:
                self._log.warning("status report failed", error=str(exc), tasks=len(batch))
                # Unsent reports go with the next pass (some only an action's outcome knows).
                self._outcomes = {**dict(items[start:]), **self._outcomes}
                self._dirty.set()
                return
            self._reported.update(batch)

    @staticmethod
    async def _in_thread(fn, *args):
        """``fn(*args)`` in a daemon thread of its own (actors/common/threads.py)."""
        return await in_daemon_thread(fn, *args, name="engine")


async def main(actor: ActorContext) -> None:
    """Entry point of the ``executor`` actor."""
    await Executor(actor).run()
