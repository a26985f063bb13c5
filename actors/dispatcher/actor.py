"""The dispatcher actor: the IO around sessions and decisions.

Executors connect to its ROUTER socket (ZAP domain ``node``: only keys of
nodes in the store that have not left, checked again at every request, and
each request must name the node of its key). Requests: ``session`` (hello,
with the node's description), ``heartbeat``, ``status`` (batched task status
reports), ``task_data`` (the secrets and configs of a task on the node, before
its container is made: taskdata.py decides, the cluster's data key unseals). The dispatcher pushes ``assignments`` (the node's full task set,
in parts, one push at a time; a heartbeat with ``resync`` asks for it again
when the node lost one) whenever it changes, batches status reports into few proposals, and marks
nodes ``down`` when their heartbeats stop. Its liveness writes carry the
version of the node it saw, so a dispatcher whose view lags cannot undo a
newer fact (the node reconnected elsewhere, or left).
"""

from __future__ import annotations

import asyncio
import random
import time

import zmq
from prometheus_client import Counter, Gauge, Histogram

from actors.common import access, datakey, heartbeat, sealing
from actors.common.actor import ActorContext
from actors.common.checkedwrite import propose_decided
from actors.common.hostconfig import dispatcher_name, dispatcher_socket, manager_address_dicts
from actors.common.leases import unreachable
from actors.common.peak import PEAK_WINDOW, WindowPeak
from actors.common.series import start_at_zero
from actors.common.storeclient import StoreClient, StoreError
from actors.common.view import StoreView
from actors.dispatcher import decisions, intake, taskdata
from actors.dispatcher.logrelay import LogRelay
from actors.dispatcher.sessions import SessionTable
from actors.network import hoststate
from actors.network.netindex import NetworkIndex, Touched
from transport import limits, model, schema
from transport.rpc import Request, RpcError, RpcServer

LIVENESS_TICK = 0.5  # how often, at most, silent sessions are looked for (twice per heartbeat period below it)
# After the dispatcher (re)starts, nodes the store shows ready get this long (or a heartbeat grace if longer) to reconnect.
RECONNECT_GRACE = 5.0
# Nodes whose dispatcher is gone get this long to reconnect to another one: more than an executor takes to
# notice (a heartbeat's 1 s timeout, after up to a period) and open a session elsewhere, counted from when the
# leader reports the dispatcher's manager unreachable, which can be under a second after it died.
ORPHAN_GRACE = 2.0
PRESENCE_TTL = 2.0
PRESENCE_RENEW = 0.5
FLUSH_SECONDS = 0.01
REPORT_RETRY_SECONDS = 0.2  # status reports the store did not take are proposed again this much later
# What the dispatcher's view holds: sessions read nodes, tasks, leases and the cluster (roles, heartbeat
# period); hosts' network states read networks and services too; task_data reads secrets (sealed) and configs.
VIEW_TABLES = frozenset({"cluster", "nodes", "tasks", "leases", "services", "networks", "secrets", "configs"})
NETWORK_GATHER_SECONDS = 0.02  # changes gathered before hosts' network states are worked out again
NETWORK_TABLES = frozenset({"tasks", "services", "nodes", "networks"})  # what a host's network state reads
REFUSALS_SHOWN = 10  # reasons a status reply repeats back to the node (all are counted)

UNKNOWN_SESSION = "session expired or unknown: open a new one"
READY_ATTEMPTS = 3  # a session's ready write is retried this often when the node changed meanwhile

HEARTBEATS = Counter("shoal_dispatcher_heartbeats_total", "Heartbeats received from nodes")
SESSIONS = Gauge("shoal_dispatcher_sessions", "Live worker sessions")
NODES_DOWN = Counter("shoal_dispatcher_nodes_marked_down_total", "Nodes marked down after missed heartbeats")
STATUS_REPORTS = Counter("shoal_dispatcher_status_reports_total", "Task status reports received from executors")
STATUS_REFUSED = Counter("shoal_dispatcher_status_reports_refused_total",
                         "Task status reports refused as malformed (the rest of their batch is kept)")
REQUESTS_REFUSED = Counter("shoal_dispatcher_requests_refused_total", "Session and status requests refused as malformed")
TASK_DATA = Counter("shoal_dispatcher_task_data_total", "task_data requests, by outcome (ok or the error code)",
                    ["outcome"])
start_at_zero(TASK_DATA, ("ok", "permission_denied", "not_found"))
STATUS_QUEUE = Gauge("shoal_dispatcher_status_queue", "Status reports received and not yet committed (queued or "
                     "being proposed)")
STATUS_QUEUE_PEAK = Gauge("shoal_dispatcher_status_queue_peak", "The most status reports waiting at once within "
                          f"the last {PEAK_WINDOW:g} s")
ASSIGNMENT_PUSHES = Counter("shoal_dispatcher_assignment_pushes_total", "Assignment sets pushed to nodes")
NETWORK_PUSHES = Counter("shoal_dispatcher_network_state_pushes_total", "Network states pushed to nodes")
NETWORK_SECONDS = Histogram("shoal_dispatcher_network_state_seconds",
                            "Time to work out the network states of the nodes one batch of changes touched",
                            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
FLUSH_SECONDS_HIST = Histogram("shoal_dispatcher_flush_seconds", "Time to commit one batch of status reports",
                               buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))


class Dispatcher:
    """Keeps node sessions and relays between nodes and the store."""

    def __init__(self, actor: ActorContext, instance: int = 0):
        """Dispatcher ``instance`` of the manager (0: its own; others: further processes on their own ports)."""
        self._actor = actor
        self._log = actor.log
        self._store = StoreClient.for_actor(actor)
        self._view = StoreView(actor, self._store, tables=VIEW_TABLES)
        self._roles = access.ViewRoles(self._view)
        self._sessions = SessionTable()
        self._reports: dict[str, dict[str, dict]] = {}  # node id -> task id -> status
        self._reports_ready = asyncio.Event()
        self._proposing = 0  # status reports taken from _reports and not yet committed
        self._queue_level = 0  # len of every _reports entry, plus _proposing (set by _queue_changed)
        self._queue_peak = WindowPeak(PEAK_WINDOW, time.monotonic())
        STATUS_QUEUE_PEAK.set_function(lambda: max(self._queue_peak.value(time.monotonic()), self._queue_level))
        self._unserved_since: dict[str, float] = {}
        self._server: RpcServer | None = None
        self._me = dispatcher_name(actor.config.node_id, instance)
        self._socket = dispatcher_socket(instance)
        self._managers: list[dict] = []
        self._live: set[str] = set()  # the dispatchers whose presence lease is live, as of the last look
        self._node_changes = self._view.watch(frozenset({"nodes"}))  # when to list the managers again
        self._task_changes = self._view.watch(frozenset({"tasks"}))  # whose assignments to push again
        self._network_changes = self._view.watch(NETWORK_TABLES)  # whose network states to push again
        self._networks: NetworkIndex | None = None  # built from the view's first snapshot
        self._push_lock = asyncio.Lock()
        self._data_key: datakey.DataKey | None = None
        self._no_data_key = ""  # why there is no data key, when there is none
        self._log_relay = LogRelay()

    async def run(self) -> None:
        """Serve nodes until cancelled."""
        self._actor.policy.allow("node", lambda key: self._roles.role_of(key) in access.NODES)
        self._load_data_key()
        await self._view.start()
        sock = self._actor.serve(zmq.ROUTER, self._socket, "node", limits.DISPATCHER_MESSAGE_BYTES)
        handlers = {"session": self._on_session, "heartbeat": self._on_heartbeat, "status": self._on_status,
                    "task_data": self._on_task_data, "logs": self._on_logs, "logs_reply": self._on_logs_reply}
        self._server = RpcServer(sock, handlers,
                                 on_error=lambda code, text: self._log.warning("bad request", code=code, error=text),
                                 authorize=access.authorizer("dispatcher", self._roles.role_of,
                                                             access.DISPATCHER_RIGHTS))
        await asyncio.gather(self._server.serve(), self._view.run(), self._push_loop(), self._network_loop(),
                             self._liveness_loop(), self._flush_loop(), self._presence_loop())

    def _node_for(self, request: Request) -> dict:
        """The node of the request's key, which the request must name; RpcError ``unknown_node`` otherwise."""
        node = self._roles.node_of(request.peer_key)
        if node is None or node["ID"] != request.body["node_id"]:
            raise RpcError("unknown_node", f"node {str(request.body['node_id'])[:64]} is not part of this swarm, "
                                           "has left it, or is not the node of this key")
        return node

    # -- requests ------------------------------------------------------------
    async def _on_session(self, request: Request) -> dict:
        node = self._node_for(request)
        description, addr = self._checked(intake.checked_session, request.body, node)
        node, ready_index = await self._mark_ready(request, description, addr)
        session = self._sessions.open(node["ID"], request.routing_id, time.monotonic())
        session.ready_index = ready_index
        self._log.info("session opened", node=node["ID"], session=session.session_id)
        asyncio.ensure_future(self._push_if_changed(session))
        asyncio.ensure_future(self._push_network_state(session))
        return {"session_id": session.session_id, **self._news_for(node)}

    async def _mark_ready(self, request: Request, description: dict, addr: str) -> tuple[dict, int]:
        """Write the requesting node ready, version-checked against the node as this dispatcher sees it
        (so a node that left meanwhile is not brought back); when the node changed under the write,
        decide again once the view has caught up. Returns the node and the store index of the write;
        RpcError when it cannot be marked."""
        def decide():
            node = self._node_for(request)
            return decisions.node_ready_ops(node, description, addr, self._view.now(), self._me), node
        try:
            result, node = await propose_decided(self._store, self._view, decide, READY_ATTEMPTS)
        except StoreError as exc:
            if exc.code == "conflict":
                raise RpcError("conflict", "the node kept changing while its session opened: try again") from None
            self._log.warning("could not write node ready", code=exc.code, error=str(exc),
                              node=request.body["node_id"])
            raise
        return node, result["index"]

    async def _on_heartbeat(self, request: Request) -> dict:
        HEARTBEATS.inc()
        node = self._node_for(request)
        session = self._sessions.heartbeat(node["ID"], request.body["session_id"], request.routing_id, time.monotonic())
        if session is None:
            raise RpcError("unknown_session", UNKNOWN_SESSION)
        if node["Status"]["State"] == schema.NODE_DOWN and self._view.index >= session.ready_index:
            # Marked down after the session opened (another dispatcher took this one for gone, say while its
            # Raft member stalled): a new session marks the node ready again.
            raise RpcError("unknown_session", "this node was marked down: open a new session")
        if request.body.get("resync") is True:
            session.assignments_digest = session.network_digest = None  # a push was lost: send both again
            asyncio.ensure_future(self._push_if_changed(session))
            asyncio.ensure_future(self._push_network_state(session))
        return self._news_for(node)

    def _period(self) -> float:
        """The cluster's heartbeat period now, in seconds (it follows ``swarm update``)."""
        return heartbeat.period(self._view.cluster)

    def _news_for(self, node: dict) -> dict:
        """What a node learns with each heartbeat: the period, its role, whether it is a Raft member
        yet, and where the managers are (to fail over to another dispatcher)."""
        if self._node_changes.take() or not self._managers:
            self._managers = manager_address_dicts(self._view.table("nodes").values(), self._live | {self._me})
        return {"heartbeat_period": heartbeat.jittered(self._period(), random.random()), "role": schema.get_path(node, "Spec.Role"),
                "raft_member": bool(node.get("ManagerStatus")), "managers": self._managers}

    async def _on_status(self, request: Request) -> dict:
        node = self._node_for(request)
        checked = self._checked(intake.checked_reports, request.body.get("updates"), node)
        STATUS_REPORTS.inc(len(checked.valid))
        if checked.refused:
            STATUS_REFUSED.inc(len(checked.refused))
            self._log.warning("status reports refused", node=node["ID"], count=len(checked.refused),
                              first=checked.refused[0])
        self._reports.setdefault(node["ID"], {}).update(checked.valid)
        self._queue_changed()
        self._reports_ready.set()
        return {"accepted": len(checked.valid), "refused": checked.refused[:REFUSALS_SHOWN]}

    async def _on_logs(self, request: Request) -> list:
        """A manager's request for the output of tasks of a node in session here (logrelay.py): pushed to the
        node, its answer returned; RpcError ``unavailable`` when the node has no session here or is silent."""
        body = request.body
        node_id, tasks = str(body["node_id"]), body["tasks"]
        if not isinstance(tasks, list) or len(tasks) > limits.LOG_TASKS_PER_REQUEST:
            raise RpcError("malformed", f"a logs request names at most {limits.LOG_TASKS_PER_REQUEST} tasks")
        session = self._sessions.get(node_id)
        if session is None:
            raise RpcError("unavailable", f"node {node_id[:64]} has no session with dispatcher {self._me}")
        push = {"tasks": tasks, "since": int(body.get("since") or 0), "tail": int(body.get("tail", -1))}
        return await self._log_relay.ask(node_id, push,
                                         lambda sent: self._server.push(session.routing_id, "logs", sent))

    async def _on_logs_reply(self, request: Request) -> dict:
        """A node's answer to a logs request pushed to it (ignored when nobody waits for it any more)."""
        node = self._node_for(request)
        tasks = request.body.get("tasks")
        return {"taken": self._log_relay.answer(node["ID"], request.body.get("request"),
                                                tasks if isinstance(tasks, list) else [])}

    async def _on_task_data(self, request: Request) -> dict:
        """The secrets and configs of a task of the caller's node, for a live session (taskdata.task_data);
        the outcome is counted and a refusal logged (ids only: never data)."""
        node = self._node_for(request)
        task_id = str(request.body.get("task_id", ""))[:limits.ID_CHARS]
        try:
            self._live_session(node["ID"], request.body.get("session_id"))
            reply = taskdata.task_data(self._view.table("tasks").get(task_id), task_id, node["ID"],
                                       self._view.table("secrets"), self._view.table("configs"), self._unseal)
        except RpcError as exc:
            TASK_DATA.labels(exc.code).inc()
            self._log.warning("task data refused", node=node["ID"], task=task_id, code=exc.code, error=str(exc))
            raise
        TASK_DATA.labels("ok").inc()
        return reply

    def _live_session(self, node_id: str, session_id) -> None:
        """RpcError ``unknown_session`` unless ``session_id`` is ``node_id``'s live session here."""
        session = self._sessions.get(node_id)
        if session is None or session.session_id != session_id:
            raise RpcError("unknown_session", UNKNOWN_SESSION)

    def _load_data_key(self) -> None:
        """Get the cluster's data key (datakey.for_actor); without it configs are still served, and
        secrets refused saying why, until a later request finds it (a host promoted meanwhile)."""
        try:
            self._data_key = datakey.for_actor(self._actor.config)
        except datakey.DataKeyError as exc:
            self._no_data_key = str(exc)
            self._log.error("no data key: secrets cannot be sent to nodes", error=str(exc))

    def _unseal(self, secret_id: str, sealed: dict) -> bytes:
        """A secret's value from its ``Sealed`` block (bound to its id); RpcError when it cannot be."""
        if self._data_key is None:
            self._load_data_key()
        if self._data_key is None:
            raise RpcError("unavailable", f"this manager cannot unseal secrets: {self._no_data_key}")
        try:
            return self._data_key.unseal(secret_id.encode(), sealed)
        except sealing.SealError as exc:
            raise RpcError("internal", f"secret {secret_id} does not unseal: {exc}") from None

    def _checked(self, check, value, node: dict):
        """``check(value)``, or an ``invalid`` error reply (counted and logged) naming the field."""
        try:
            return check(value)
        except model.Invalid as exc:
            REQUESTS_REFUSED.inc()
            self._log.warning("request refused", node=node["ID"], error=str(exc))
            raise RpcError("invalid", str(exc)) from None

    # -- loops ---------------------------------------------------------------
    async def _flush_loop(self) -> None:
        """Propose queued status reports in batches (one proposal per flush)."""
        while True:
            await self._reports_ready.wait()
            self._reports_ready.clear()
            await asyncio.sleep(FLUSH_SECONDS)
            reports, self._reports = self._reports, {}
            tasks = self._view.table("tasks")
            ops = [op for node_id, updates in reports.items() for op in decisions.status_ops(tasks, node_id, updates)]
            self._proposing = len(ops)
            self._queue_changed()
            for start in range(0, len(ops), limits.BATCH_OPS):
                started = time.perf_counter()
                chunk = ops[start:start + limits.BATCH_OPS]
                if not await self._commit_reports(chunk):
                    self._retry_reports(reports, {op["id"] for op in chunk})
                self._proposing -= len(chunk)
                self._queue_changed()
                FLUSH_SECONDS_HIST.observe(time.perf_counter() - started)

    def _queue_changed(self) -> None:
        """Set the status-queue gauges after reports were queued, taken or committed: on the loop, so the
        scrape (another thread) reads numbers, never the dicts the loop changes."""
        self._queue_level = sum(len(updates) for updates in self._reports.values()) + self._proposing
        STATUS_QUEUE.set(self._queue_level)
        self._queue_peak.observe(self._queue_level, time.monotonic())

    async def _commit_reports(self, ops: list[dict]) -> bool:
        """Propose status patches together; when the store finds one invalid (say, it would make its task
        too large), propose them one by one so that one report cannot cost the others. False when the
        store did not take them for a reason that passes (no leader during an election, a timeout, a
        conflict with a write the view has not shown yet)."""
        try:
            await self._store.propose(ops)
            return True
        except StoreError as exc:
            if exc.code != "invalid" or len(ops) == 1:
                self._log.warning("could not write task status", code=exc.code, error=str(exc), count=len(ops))
                return exc.code == "invalid"
        for op in ops:
            await self._commit([op], "task status", task=op["id"])
        return True

    def _retry_reports(self, reports: dict[str, dict[str, dict]], task_ids: set[str]) -> None:
        """Queue again the reports of ``task_ids`` (a newer report of the same task wins), flushed
        REPORT_RETRY_SECONDS from now: an executor sends each report once, so a report dropped here
        would leave its task in its last state for good (seen after a leader's kill: a task left
        ``accepted`` while its container ran)."""
        for node_id, updates in reports.items():
            again = {task_id: updates[task_id] for task_id in task_ids & updates.keys()}
            if again:
                self._reports[node_id] = {**again, **self._reports.get(node_id, {})}
        self._queue_changed()
        asyncio.get_running_loop().call_later(REPORT_RETRY_SECONDS, self._reports_ready.set)

    async def _push_loop(self) -> None:
        """Push each node its assignment set whenever that set changes: after each change of tasks, to the
        sessions of the nodes those tasks were or are on (all of them after a snapshot). A session's
        first push, and a push again after a lost one, are started by its requests."""
        while True:
            await self._task_changes.wait(None)
            changes = self._task_changes.take()
            touched = self._sessions.all() if changes.everything else [
                session for session in map(self._sessions.get, changes.nodes) if session is not None]
            for session in touched:
                await self._push_if_changed(session)

    async def _push_if_changed(self, session) -> None:
        """Push ``session``'s node its assignment set when it changed since the last push (in parts: the
        tasks may be many and large). One push at a time, so the parts of two pushes never interleave."""
        async with self._push_lock:
            assignments = decisions.assignments_for(self._view.task_index.on_node(session.node_id), session.node_id)
            fingerprint = decisions.digest(assignments)
            if fingerprint == session.assignments_digest:
                return
            session.assignments_digest = fingerprint
            ASSIGNMENT_PUSHES.inc()
            await self._server.push(session.routing_id, "assignments",
                                    {"session_id": session.session_id, "tasks": assignments}, stream="tasks")

    async def _network_loop(self) -> None:
        """Push each node its network state whenever it may have changed: after each batch of changes,
        to the sessions of the nodes the changes touch (netindex.Touched: on a network the node is or
        was on, or the node itself), all of them after a snapshot or a change of networks."""
        while True:
            await self._network_changes.wait(None)
            await asyncio.sleep(NETWORK_GATHER_SECONDS)  # a burst of changes (a scale, an update) in one pass
            changes = self._network_changes.take()
            started = time.perf_counter()
            if changes.everything or self._networks is None:
                self._networks = NetworkIndex({name: self._view.table(name) for name in NETWORK_TABLES})
                touched = Touched(everything=True)
            else:
                touched = self._networks.update(changes, self._view.table("tasks"))
            if not touched:
                continue  # nothing a host is told changed (tasks on no network, status steps hosts ignore)
            states = hoststate.HostStates(self._networks)  # what the nodes' states share is made once
            for session in self._sessions.all():
                if (touched.everything or session.node_id in touched.nodes
                        or (session.network_ids | self._networks.host_networks(session.node_id)) & touched.networks):
                    await self._push_network_state(session, states)
            NETWORK_SECONDS.observe(time.perf_counter() - started)

    async def _push_network_state(self, session, states: hoststate.HostStates | None = None) -> None:
        """Push ``session``'s node its network state (made by ``states``, by default from the index as it
        is) when it changed since the last push, in parts: the tasks on its networks may be many. Shares
        the assignments' lock: a node takes one push at a time."""
        if self._networks is None:
            return  # the first snapshot is not indexed yet: the network loop pushes to every session then
        async with self._push_lock:
            items, fingerprint = (states or hoststate.HostStates(self._networks)).for_node(session.node_id)
            if fingerprint == session.network_digest:
                return
            session.network_digest = fingerprint
            session.network_ids = frozenset(item["Network"]["ID"] for item in items if "Network" in item)
            NETWORK_PUSHES.inc()
            await self._server.push(session.routing_id, "network_state",
                                    {"session_id": session.session_id, "items": items}, stream="items")

    async def _liveness_loop(self) -> None:
        """Mark nodes down when their heartbeats stop. Heartbeat deadlines follow this host's monotonic
        clock, presence leases the store's clock: a jump of the wall clock expires neither."""
        while True:
            period = self._period()
            await asyncio.sleep(min(period / 2, LIVENESS_TICK))
            now, store_now = time.monotonic(), self._view.now()
            nodes = self._view.table("nodes")
            dispatchers = decisions.live_dispatchers(self._view.table("leases"), nodes, store_now)
            if dispatchers != self._live:
                self._live, self._managers = dispatchers, []  # the managers' list names the live instances
            # When our own presence lapsed too, the store is not taking writes (an election, lost
            # quorum) or our view lags: judge no other dispatcher dead until it is back.
            present = self._me in dispatchers
            if not present:
                self._unserved_since.clear()
            silent = []  # decided from this one moment of the view: no await until every node is chosen
            # A manager host the Raft leader reports unreachable whose executor also missed two heartbeats is
            # gone: its node is not given the whole heartbeat grace.
            for session in self._sessions.expired(now, heartbeat.grace(period),
                                                  lambda node_id: unreachable(nodes, node_id), period * 2):
                node = nodes.get(session.node_id)
                if not decisions.expiry_shows_gone(node, self._me):
                    continue  # the node moved to another dispatcher
                self._log.warning("node missed heartbeats", node=session.node_id)
                silent.append(node)
            live = {s.node_id for s in self._sessions.all()}
            stale = decisions.stale_ready_nodes(nodes, live, self._unserved_since, now, self._me, dispatchers,
                                                max(RECONNECT_GRACE, heartbeat.grace(period)),
                                                max(ORPHAN_GRACE, heartbeat.grace(period))) if present else []
            silent += [nodes[node_id] for node_id in stale]
            # Each write carries the version of the node as decided on: if the view was behind (this
            # dispatcher was paused, say) and the node has since reconnected elsewhere, it fails.
            for node in silent:
                if await self._commit(decisions.node_down_ops(node, "heartbeat failure", store_now), "node down",
                                      node=node["ID"]):
                    NODES_DOWN.inc()
            SESSIONS.set(len(live))

    async def _presence_loop(self) -> None:
        """Renew this dispatcher's presence lease, so the others leave its nodes alone while it runs."""
        name = decisions.presence_lease_name(self._me)
        while True:
            await self._commit([{"op": "lease", "name": name, "holder": self._me, "ttl": PRESENCE_TTL}],
                               "presence lease")
            await asyncio.sleep(PRESENCE_RENEW)

    async def _commit(self, ops: list[dict], what: str, **fields) -> bool:
        """Propose ``ops``; False (and one log line) when the store refused them."""
        try:
            await self._store.propose(ops)
        except StoreError as exc:
            self._log.warning(f"could not write {what}", code=exc.code, error=str(exc), **fields)
            return False
        return True


async def main(actor: ActorContext, instance: int = 0) -> None:
    """Entry point of the ``dispatcher`` actor (``instance``: which of the manager's dispatchers)."""
    await Dispatcher(actor, instance).run()
