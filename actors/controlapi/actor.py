"""The control API actor: what the shoal CLI talks to.

Two sockets: ``join`` (ZAP domain ``join``: any CURVE key; only ``join``,
``ping`` and a node's own ``leave``) and ``control`` (ZAP domain ``admin``:
only the cluster's admin keys). Reads come from the actor's view, after a
read barrier: the Raft member's read index, which the view must reach
first, so a read sees every write committed before it started, whichever
manager took the write. Writes are proposals, after which the reply waits
until the view holds the write.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import time

import zmq
import prometheus_client
from prometheus_client import Counter, Histogram

from actors.allocator.ports import check_ports
from actors.common import access, autolock, datakey
from actors.common.actor import ActorContext
from actors.common.checkedwrite import catch_up, propose_decided
from actors.common.hostconfig import manager_address_dicts
from actors.common.servicestatus import service_rows
from actors.common.specwrites import FIRST_SPEC_VERSION
from actors.common.storeclient import StoreClient, StoreError
from actors.common.view import StoreView
from actors.controlapi import (discovery, keywrap, labelupdate, networks, secrets, specs, swarmspec, tokens, updatemetrics,
                               updates)
from actors.controlapi.eventfeed import EventFeed
from actors.controlapi.logs import LogGatherer
from actors.controlapi.resolve import resolve
from actors.network import objects
from actors.raft.roles import quorum_refusal
from transport import keys, limits, model, schema
from transport.rpc import Request, RpcError, RpcServer, Stream

VIEW_WAIT_SECONDS = 5.0
DISCOVERY_WAIT_SECONDS = 5.0  # a discovery request the event loop does not answer in time gets a 503 (a scrape: no sample)
NODE_UPDATE_ATTEMPTS = 5
CLUSTER_UPDATE_ATTEMPTS = 3
# Each round of serialised writes commits at least one of them, so N joins at the same moment need at most N
# attempts; hosts of a test or a deployment script join by the dozen.
JOIN_ATTEMPTS = 32
# A rotation patches the secret and every service using it at once: other writes to those services race it.
ROTATE_ATTEMPTS = 5
# The join socket: anyone may ask to join or ping; only a node may leave (the handler checks it is its own node).
# A manager's host key may fetch the data key (a promoted worker, before it starts the manager's actors).
JOIN_RIGHTS = {"join": access.ANYONE, "ping": access.ANYONE, "leave": access.NODES,
               "data_key": frozenset({access.MANAGER})}

REQUESTS = Counter("shoal_controlapi_requests_total", "Control API requests", ["kind", "outcome"])
LATENCY = Histogram("shoal_controlapi_request_seconds", "Control API request latency", ["kind"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


def _measured(kind: str, handler):
    REQUESTS.labels(kind, "ok")  # each kind's series start at 0
    LATENCY.labels(kind)

    async def wrapper(request: Request):
        started = time.perf_counter()
        try:
            reply = await handler(request)
        except RpcError as exc:
            REQUESTS.labels(kind, exc.code).inc()
            raise
        finally:
            LATENCY.labels(kind).observe(time.perf_counter() - started)
        REQUESTS.labels(kind, "ok").inc()
        return reply
    return wrapper


class ControlApi:
    """Request handlers over a store view."""

    def __init__(self, actor: ActorContext):
        self._actor = actor
        # The cluster's data key: seals what the store keeps secret; handed to managers that join or are promoted.
        self.data_key = datakey.for_actor(actor.config)
        self._store = StoreClient.for_actor(actor)
        self.view = StoreView(actor, self._store)
        self._role_of = access.ViewRoles(self.view).role_of
        self._logs = LogGatherer(actor)
        self._events = EventFeed(self.view)

    async def run(self) -> None:
        """Serve both sockets until cancelled."""
        self._actor.policy.allow("admin", lambda key: self._role_of(key) in access.ADMINS)
        self._actor.policy.allow("join", lambda key: True)
        await self.view.start()
        loop = asyncio.get_running_loop()
        self._actor.metrics_routes["/discovery"] = lambda: asyncio.run_coroutine_threadsafe(
            self._discovery(), loop).result(DISCOVERY_WAIT_SECONDS)
        prometheus_client.REGISTRY.register(updatemetrics.UpdatePausedCollector(
            lambda: asyncio.run_coroutine_threadsafe(self._updates_paused(), loop).result(DISCOVERY_WAIT_SECONDS)))
        join = RpcServer(self._actor.serve(zmq.ROUTER, "join", "join", limits.JOIN_MESSAGE_BYTES), self._handlers(
            {"join": self._linearizable(self.join), "ping": self.ping, "leave": self.leave_own,
             "data_key": self._linearizable(self.manager_data_key)}), on_error=self._on_error,
            authorize=access.authorizer("join", self._role_of, JOIN_RIGHTS))
        reads = {"info": self.info, "swarm_inspect": self.swarm_inspect, "join_token": self.join_token,
                 "unlock_key": self.unlock_key, "node_ls": self.node_ls,
                 "node_inspect": self.node_inspect, "service_ls": self.service_ls,
                 "service_inspect": self.service_inspect, "service_ps": self.service_ps, "node_ps": self.node_ps,
                 "network_ls": self.network_ls, "network_inspect": self.network_inspect, "service_logs": self.service_logs,
                 "events": self.events,
                 **self._object_kinds("ls", self.object_ls), **self._object_kinds("inspect", self.object_inspect)}
        # Writes decide from the view too (a name taken, a version, a quorum), so they wait for it like reads.
        writes = {"swarm_update": self.swarm_update, "node_update": self.node_update, "node_rm": self.node_rm, "leave": self.leave,
                  "service_create": self.service_create, "service_scale": self.service_scale,
                  "service_update": self.service_update, "service_rollback": self.service_rollback,
                  "service_restart": self.service_restart, "service_rm": self.service_rm,
                  "network_create": self.network_create, "network_rm": self.network_rm, "network_prune": self.network_prune,
                  **self._object_kinds("create", self.object_create), **self._object_kinds("rm", self.object_rm),
                  **self._object_kinds("update", self.object_update), "secret_rotate": self.secret_rotate}
        handlers = self._handlers({
            "ping": self.ping, **{kind: self._linearizable(handler) for kind, handler in {**reads, **writes}.items()}})
        control = RpcServer(self._actor.serve(zmq.ROUTER, "control", "admin", limits.CONTROL_MESSAGE_BYTES), handlers,
                            on_error=self._on_error,
                            authorize=access.authorizer("control", self._role_of, access.every_kind(handlers, access.ADMINS)))
        await asyncio.gather(self.view.run(), join.serve(), control.serve(),
                             keywrap.keep_wrapped(self.view, self._actor.config.state_dir, self.data_key, self._actor.log))

    async def _discovery(self) -> bytes:
        """Prometheus's http_sd answer: every actor of every host in the view (actors/controlapi/discovery.py)."""
        return discovery.document(self.view.table("nodes").values())

    async def _updates_paused(self) -> dict[str, int]:
        """Which services' updates are paused, for the metrics endpoint (actors/controlapi/updatemetrics.py)."""
        return updatemetrics.paused_by_service(self.view.table("services").values())

    @staticmethod
    def _object_kinds(verb: str, handler) -> dict:
        """``secret_<verb>`` and ``config_<verb>``: ``handler`` given the kind (secrets.SECRET or CONFIG) first."""
        return {f"{kind.noun}_{verb}": functools.partial(handler, kind) for kind in secrets.KINDS}

    @staticmethod
    def _handlers(table: dict) -> dict:
        return {kind: _measured(kind, handler) for kind, handler in table.items()}

    def _on_error(self, code: str, text: str) -> None:
        if code in ("malformed", "internal"):
            self._actor.log.warning("bad request", code=code, error=text)


    def _cluster(self) -> dict:
        cluster = self.view.cluster
        if cluster is None:
            raise RpcError("unavailable", "the cluster is still starting")
        return cluster

    def _linearizable(self, handler):
        """``handler`` run once the view holds every write committed before the request arrived."""
        async def read(request: Request):
            await catch_up(self._store, self.view, VIEW_WAIT_SECONDS)
            return await handler(request)
        return read

    async def _wait_for_view(self, index: int) -> bool:
        """Wait (at most VIEW_WAIT_SECONDS) until the view has reached ``index``; False if it did not."""
        return await self.view.wait_index(index, VIEW_WAIT_SECONDS)

    async def _write(self, ops: list[dict]) -> dict:
        """Propose ``ops`` and wait until this actor's view includes them."""
        result = await self._store.propose(ops)
        await self._wait_for_view(result["index"])  # the write is done either way; this is for read-your-writes
        return result

    async def _patch_decided(self, table: str, find, changes_of, attempts: int) -> dict:
        """Patch the object ``find()`` picks from the view with ``changes_of(object)`` (path -> value; no write
        when empty), version-checked, and decided again on a caught-up view when another write got there
        first, at most ``attempts`` times (checkedwrite.propose_decided). Returns the object as written."""
        def decide():
            obj = find()
            changes = changes_of(obj)
            return ([{"op": "patch", "table": table, "id": obj["ID"], "version": schema.version_of(obj),
                      "set": changes}] if changes else []), obj
        result, obj = await propose_decided(self._store, self.view, decide, attempts)
        if result is None:
            return obj
        await self._wait_for_view(result["index"])
        return self.view.table(table)[obj["ID"]]

    # -- swarm ---------------------------------------------------------------
    async def ping(self, request: Request) -> dict:
        return {"cluster_id": self._actor.config.cluster_id}

    async def info(self, request: Request) -> dict:
        cluster = autolock.shown(self._cluster())
        nodes = list(self.view.table("nodes").values())
        return {"cluster": cluster, "nodes": len(nodes),
                "managers": sum(1 for n in nodes if n["Spec"]["Role"] == "manager"),
                "services": len(self.view.table("services")), "tasks": len(self.view.table("tasks")),
                "node_id": self._actor.config.node_id, "store_index": self.view.index}

    async def swarm_inspect(self, request: Request) -> dict:
        """The cluster object, as ``docker swarm inspect`` showed it (without the sealed unlock key)."""
        return autolock.shown(self._cluster())

    async def swarm_update(self, request: Request) -> dict:
        """Change the settings of the cluster's spec that the request names (see swarmspec.cluster_changes;
        ``autolock``: autolock.changes), version-checked and decided again when another write (a token
        rotation) got there first. Returns the cluster as updated."""
        body = dict(request.body)
        wanted = body.pop("autolock", None)
        if wanted is not None and not isinstance(wanted, bool):
            raise RpcError("invalid", f"invalid autolock {model.shown(wanted)}: use true or false")
        return autolock.shown(await self._patch_decided(
            "cluster", self._cluster,
            lambda cluster: {**swarmspec.cluster_changes(cluster, body), **autolock.changes(cluster, wanted, self.data_key)},
            CLUSTER_UPDATE_ATTEMPTS))

    async def unlock_key(self, request: Request) -> dict:
        """The cluster's unlock key (``{"key": "SWMKEY-1-..."}``), after replacing it with a new one when
        ``rotate`` (every manager re-wraps its data key file: keywrap.py); RpcError ``not_found`` when
        autolock is off (Docker's words, which differ for a rotation)."""
        cluster = self._cluster()
        if not autolock.enabled(cluster):
            raise RpcError("not_found", autolock.NOT_ON if request.body.get("rotate") else autolock.NO_KEY)
        if request.body.get("rotate"):
            cluster = await self._patch_decided("cluster", self._cluster,
                                                lambda cluster: autolock.rotation(cluster, self.data_key),
                                                CLUSTER_UPDATE_ATTEMPTS)
        return {"key": autolock.show(autolock.stored_key(cluster, self.data_key))}

    async def join_token(self, request: Request) -> dict:
        role = request.body.get("role", "worker")
        if role not in ("worker", "manager"):
            raise RpcError("invalid", f"unknown role {model.shown(role)}: use worker or manager")
        cluster = self._cluster()
        field = "JoinTokens." + role.capitalize()
        if request.body.get("rotate"):
            token = tokens.make(keys.public_to_hex(self._actor.keypair.public))
            await self._write([{"op": "patch", "table": "cluster", "id": cluster["ID"], "version": schema.version_of(cluster),
                                "set": {field: token}}])
        return {"token": schema.get_path(self.view.cluster, field), "addr": f"{self._actor.config.addr}:{self._actor.config.port}"}

    def _refuse_joined_key(self, key: str) -> None:
        """RpcError ``already_joined`` when a node of the view has ``key``: a key joins once."""
        holder = next((node for node in self.view.table("nodes").values()
                       if schema.get_path(node, "Shoal.PublicKey") == key), None)
        if holder is not None:
            raise RpcError("already_joined", f"this key already belongs to node {holder['ID']}: a key joins once "
                                             "(a host that left must be removed with 'node rm' before it rejoins)")

    async def join(self, request: Request) -> dict:
        body = request.body
        try:
            tokens.parse(str(body.get("token", "")))
        except tokens.BadToken as exc:
            raise RpcError("bad_token", str(exc)) from None
        cluster = self._cluster()
        role = tokens.role_of(body["token"], cluster.get("JoinTokens") or {})
        if role is None:
            raise RpcError("bad_token", "invalid join token")
        if body.get("public_key") != request.peer_key:
            raise RpcError("invalid", "the joining key must be the key of the connection")
        addr, port = body.get("addr"), body.get("port")
        if addr is None or port is None:
            raise RpcError("invalid", "a joining host must say the address and base port it listens on")
        specs.checked(model.address, addr, "addr")
        specs.checked(model.base_port, port, "port")
        hostname = specs.checked(model.hostname, body.get("hostname", ""), "hostname")
        metrics = specs.checked(model.metrics_endpoint, body.get("metrics", discovery.PLAIN_METRICS), "metrics")
        node = {"ID": schema.new_id(), "Spec": {"Role": role, "Availability": schema.ACTIVE, "Labels": {}},
                "Description": {"Hostname": hostname},
                "Status": {"State": schema.NODE_UNKNOWN, "Addr": addr},
                "Shoal": {"PublicKey": request.peer_key, "Endpoints": {"addr": addr, "port": port}, "Metrics": metrics}}
        # Serialised behind the cluster object, so two joins of one key cannot both commit; a join that
        # lost the race to another host's join (or a network write) is decided again, the key checked anew.
        def decide():
            self._refuse_joined_key(request.peer_key)
            return [{"op": "create", "table": "nodes", "object": node}], None
        await self._serialized_write(decide, JOIN_ATTEMPTS)
        self._actor.log.info("node joined", node=node["ID"], role=role, hostname=node["Description"]["Hostname"])
        reply = {"node_id": node["ID"], "cluster_id": self._actor.config.cluster_id, "role": role,
                 "managers": self._managers()}
        if role == "manager":
            reply["data_key"] = datakey.to_wire(self.data_key)
        return reply

    async def manager_data_key(self, request: Request) -> dict:
        """The cluster's data key, for a node the store has as a manager (a promoted worker fetches it before
        it becomes one; the join socket's rights admit only manager keys, checked again here on a caught-up
        view)."""
        if self._role_of(request.peer_key) != access.MANAGER:
            raise RpcError("permission_denied", "only a manager may have the cluster's data key")
        return {"data_key": datakey.to_wire(self.data_key)}

    def _managers(self) -> list[dict]:
        return manager_address_dicts(self.view.table("nodes").values())

    async def leave_own(self, request: Request) -> dict:
        """A worker host leaving, signed by its own key (it has no admin key)."""
        node = self.view.table("nodes").get(request.body.get("node_id"))
        if node is None or schema.get_path(node, "Shoal.PublicKey") != request.peer_key:
            raise RpcError("not_found", "no such node, or this key is not that node's")
        return await self.leave(request)

    async def leave(self, request: Request) -> dict:
        """A host leaves: it is down from now on, and a manager stops being one (the Raft leader
        removes it from the configuration). Refused when that would lose quorum, unless forced.

        A worker that leaves is marked ``Shoal.Left`` (the time): its key loses every right, so it can
        neither open a session nor come back as ready. A manager first only becomes a worker, so that
        its executor hears of the change and the host can switch; it then leaves again, as a worker."""
        node = resolve(self.view.table("nodes"), "nodes", request.body.get("node_id"))
        now = time.time()
        changes = {"Status.State": schema.NODE_DOWN, "Status.Message": "node left the swarm",
                   "Status.Timestamp": schema.format_time(now)}
        if node["Spec"]["Role"] == "manager":
            refusal = quorum_refusal(self.view.table("nodes"), node["ID"])
            if refusal and not request.body.get("force"):
                raise RpcError("refused", f"{refusal} (use --force to leave anyway)")
            changes["Spec.Role"] = "worker"
        else:
            changes["Shoal.Left"] = schema.format_time(now)
        await self._write([{"op": "patch", "table": "nodes", "id": node["ID"], "set": changes}])
        return {"node_id": node["ID"]}

    # -- nodes ---------------------------------------------------------------
    async def node_ls(self, request: Request) -> Stream:
        """All nodes, streamed; ManagerStatus.Leader says who leads now, as the local Raft member sees it (the
        stored status is the last leader's word and may name a leader that has since died)."""
        try:
            leader = (await self._store.status(timeout=1.0)).get("leader")
        except StoreError:
            leader = None
        nodes = []
        for node in self.view.table("nodes").values():
            if node.get("ManagerStatus"):
                node = copy.deepcopy(node)
                node["ManagerStatus"]["Leader"] = node["ID"] == leader
                if node["ID"] == leader:
                    node["ManagerStatus"]["Reachability"] = "reachable"
            nodes.append(node)
        return Stream(sorted(nodes, key=lambda n: (schema.get_path(n, "Description.Hostname", ""), n["ID"])))

    async def node_inspect(self, request: Request) -> dict:
        return resolve(self.view.table("nodes"), "nodes", request.body.get("ref"))

    async def node_ps(self, request: Request) -> Stream:
        """The tasks on the nodes ``refs`` names, streamed: ``{"node": ID, "hostname": H}`` for each node,
        ``{"task": T}`` for each of their tasks, then ``{"service": ID, "name": N}`` for each service
        those tasks belong to (:meth:`actors.cli.client.ControlClient.node_ps` puts them back together)."""
        refs = request.body.get("refs")
        if not isinstance(refs, list) or not refs or len(refs) > limits.LIST_ITEMS:
            raise RpcError("invalid", f"refs must be a list of 1 to {limits.LIST_ITEMS} nodes")
        nodes = {node["ID"]: node for node in (resolve(self.view.table("nodes"), "nodes", ref) for ref in refs)}
        tasks = [task for task in self.view.table("tasks").values() if task.get("NodeID") in nodes]
        services = self.view.table("services")
        names = {task["ServiceID"]: schema.get_path(services.get(task["ServiceID"], {}), "Spec.Name")
                 or schema.get_path(task, "ServiceAnnotations.Name", "") for task in tasks}
        return Stream([{"node": node_id, "hostname": schema.get_path(node, "Description.Hostname", "")}
                       for node_id, node in nodes.items()]
                      + [{"task": task} for task in tasks]
                      + [{"service": service_id, "name": name} for service_id, name in names.items()])

    async def node_update(self, request: Request) -> dict:
        """Set the availability, labels or role the request names. The node's status is written by others
        (heartbeats, sessions) while a user edits its spec, so a write that lost that race is decided again
        on a fresh view, at most NODE_UPDATE_ATTEMPTS times."""
        return await self._patch_decided("nodes", lambda: resolve(self.view.table("nodes"), "nodes", request.body.get("ref")),
                                         lambda node: self._node_changes(node, request.body), NODE_UPDATE_ATTEMPTS)

    def _node_changes(self, node: dict, body: dict) -> dict:
        """The patch ``body`` asks of ``node`` (only what differs for the role); RpcError if it is invalid."""
        changes = {}
        availability = body.get("availability")
        if availability is not None:
            if availability not in (schema.ACTIVE, schema.PAUSE, schema.DRAIN):
                raise RpcError("invalid", f"invalid availability {model.shown(availability)}: use active, pause or drain")
            changes["Spec.Availability"] = availability
        labels = body.get("labels")
        if labels is not None:
            changes["Spec.Labels"] = specs.checked(model.labels, labels, "labels")
        role = body.get("role")
        if role is not None and role != node["Spec"]["Role"]:
            self._check_role_change(node, role)
            changes["Spec.Role"] = role
        return changes

    def _check_role_change(self, node: dict, role: str) -> None:
        """RpcError unless ``node`` may become a ``role`` now (as ``docker node promote|demote`` checks)."""
        if role not in ("manager", "worker"):
            raise RpcError("invalid", f"invalid role {model.shown(role)}: use manager or worker")
        if role == "manager" and not schema.get_path(node, "Shoal.Endpoints"):
            raise RpcError("refused", f"node {node['ID']} did not say where it listens and can't be promoted: re-join it")
        if role == "worker":
            refusal = quorum_refusal(self.view.table("nodes"), node["ID"])
            if refusal:
                raise RpcError("refused", refusal)

    async def node_rm(self, request: Request) -> dict:
        node = resolve(self.view.table("nodes"), "nodes", request.body.get("ref"))
        if node["Spec"]["Role"] == "manager" or node.get("ManagerStatus"):
            raise RpcError("refused", f"node {node['ID']} is a cluster manager and is a member of the raft cluster. "
                                      "It must be demoted to worker before removal")
        if node["Status"]["State"] == schema.NODE_READY and not request.body.get("force"):
            raise RpcError("refused", f"node {node['ID']} is not down and can't be removed (use --force)")
        await self._write([{"op": "delete", "table": "nodes", "id": node["ID"]}])
        return {"node_id": node["ID"]}

    # -- services ------------------------------------------------------------
    def _checked_spec(self, spec: dict, service_id: str | None) -> dict:
        """``spec`` with Docker's defaults filled in, once it is valid, its ports are free and its networks,
        secrets and configs exist (named by ID in the spec written); RpcError if not."""
        specs.check_service_spec(spec)
        spec = networks.resolved_service_spec(spec, self.view.table("networks"))
        spec = secrets.resolved_references(spec, self._object_tables())
        conflict = check_ports(self.view, spec, service_id)
        if conflict:
            raise RpcError("port_conflict", conflict)
        return specs.with_defaults(spec)

    def _object_tables(self) -> dict[str, dict[str, dict]]:
        """The secrets and configs tables of the view, by table name."""
        return {kind.table: self.view.table(kind.table) for kind in secrets.KINDS}

    async def service_create(self, request: Request) -> dict:
        spec = self._checked_spec(request.body.get("spec"), None)
        taken = [s for s in self.view.table("services").values() if s["Spec"]["Name"] == spec["Name"]]
        if taken:
            raise RpcError("name_conflict", f"service {spec['Name']} already exists ({taken[0]['ID']})")
        service = {"ID": schema.new_id(), "Spec": spec, "SpecVersion": dict(FIRST_SPEC_VERSION),
                   **specs.job_changes(None, spec, time.time())}
        await self._write([{"op": "create", "table": "services", "object": service}])
        return self.view.table("services")[service["ID"]]

    async def service_ls(self, request: Request) -> Stream:
        """Every service's row (see :func:`actors.common.servicestatus.service_rows`), by name, streamed."""
        return Stream(service_rows(self.view.table("services").values(), self.view.table("tasks").values()))

    async def service_inspect(self, request: Request) -> dict:
        return resolve(self.view.table("services"), "services", request.body.get("ref"))

    async def events(self, request: Request) -> dict:
        """The task and node transitions a follower has not seen yet (eventfeed.py)."""
        return await self._events.request(request.body)

    async def service_logs(self, request: Request) -> Stream:
        """One round of a service's or task's container output from the nodes that ran it (logs.py)."""
        return Stream(await self._logs.gather(self.view, request.body))

    async def service_ps(self, request: Request) -> Stream:
        """The service's tasks, streamed: ``{"service": S}``, then ``{"task": T}`` for each task, then
        ``{"node": ID, "hostname": H, "down": bool}`` for each node they are on
        (:func:`actors.cli.client.service_ps` puts them back together)."""
        service = resolve(self.view.table("services"), "services", request.body.get("ref"))
        tasks = [task for task in self.view.table("tasks").values() if task["ServiceID"] == service["ID"]]
        nodes = self.view.table("nodes")
        on = [nodes[node_id] for node_id in {task.get("NodeID") for task in tasks} if node_id in nodes]
        return Stream([{"service": service}] + [{"task": task} for task in tasks]
                      + [{"node": node["ID"], "hostname": schema.get_path(node, "Description.Hostname", ""),
                          "down": node["Status"]["State"] == schema.NODE_DOWN} for node in on])

    async def service_scale(self, request: Request) -> dict:
        service = resolve(self.view.table("services"), "services", request.body.get("ref"))
        return await self._update(service, specs.scaled_spec(service, specs.check_replicas(request.body.get("replicas"))))

    async def service_update(self, request: Request) -> dict:
        """``{ref, version, spec, step?}``: a new spec; or ``{ref, version, resume: all|step}``: resume a paused
        update. ``version`` is the Version.Index the client read: another one is ``out_of_sequence``."""
        body = request.body
        service = resolve(self.view.table("services"), "services", body.get("ref"))
        updates.check_version(service, body.get("version"))
        if body.get("resume") is not None:
            if body.get("spec") is not None:
                raise RpcError("invalid", "an update either resumes or brings a new spec, not both")
            return await self._patch_service(service, updates.resume_changes(service, body["resume"]))
        return await self._update(service, body.get("spec"), step=bool(body.get("step")))

    async def service_rollback(self, request: Request) -> dict:
        """``{ref, version}``: Spec <- PreviousSpec, rolled out under the RollbackConfig; refused when the
        previous spec references a secret or config removed since."""
        service = resolve(self.view.table("services"), "services", request.body.get("ref"))
        updates.check_version(service, request.body.get("version"))
        if service.get("PreviousSpec"):
            secrets.resolved_references(service["PreviousSpec"], self._object_tables())
        return await self._patch_service(service, updates.rollback_request_changes(service, time.time()))

    async def service_restart(self, request: Request) -> dict:
        """``{ref}``: every task replaced within the update policy (ForceUpdate + 1)."""
        service = resolve(self.view.table("services"), "services", request.body.get("ref"))
        return await self._update(service, updates.restart_spec(service))

    async def _update(self, service: dict, spec: dict, step: bool = False) -> dict:
        """Write ``spec`` (checked here) as ``service``'s new spec, if the service is still as read; ``step``
        makes its update pause after each batch."""
        spec = self._checked_spec(spec, service["ID"])
        return await self._patch_service(service, self._spec_changes(service, spec, step=step))

    @staticmethod
    def _spec_changes(service: dict, spec: dict, step: bool = False) -> dict:
        """The patch writing the checked ``spec`` over ``service`` (a job starts a new iteration); RpcError
        ``invalid`` when it would change the service's mode."""
        specs.check_mode_change(service, spec)
        return {**updates.update_changes(service, spec, step=step), **specs.job_changes(service, spec, time.time())}

    async def _patch_service(self, service: dict, changes: dict) -> dict:
        """Patch ``service`` with ``changes`` unless it changed since it was read (``out_of_sequence``)."""
        await self._patch_as_read("services", service, changes)
        return self.view.table("services")[service["ID"]]

    async def _patch_as_read(self, table: str, obj: dict, changes: dict) -> None:
        """Patch ``obj`` of ``table`` with ``changes`` unless it changed since it was read (``out_of_sequence``)."""
        try:
            await self._write([{"op": "patch", "table": table, "id": obj["ID"], "version": schema.version_of(obj),
                                "set": changes}])
        except StoreError as exc:
            if exc.code == "conflict":
                raise updates.out_of_sequence() from None
            raise

    async def service_rm(self, request: Request) -> dict:
        service = resolve(self.view.table("services"), "services", request.body.get("ref"))
        await self._write([{"op": "delete", "table": "services", "id": service["ID"]}])
        return {"id": service["ID"], "name": service["Spec"]["Name"]}

    # -- networks ------------------------------------------------------------
    def _network_users(self, network: dict) -> str | None:
        return networks.removal_refusal(network, self.view.table("services"), self.view.table("tasks"),
                                        self.view.table("nodes"))

    async def _serialized_write(self, decide, attempts: int = CLUSTER_UPDATE_ATTEMPTS) -> tuple[dict | None, object]:
        """Propose ``decide()``'s ops behind a version-checked empty patch of the cluster object, so such
        writes (joins, network writes) are decided one at a time (two creates of one network name or of
        overlapping subnets, two joins of one key, cannot both commit); decided again on a caught-up view
        when another write got there first, at most ``attempts`` times in all."""
        def serialized():
            ops, decided_on = decide()
            cluster = self._cluster()
            return ([{"op": "patch", "table": "cluster", "id": cluster["ID"], "version": schema.version_of(cluster),
                      "set": {}}] + ops if ops else []), decided_on
        result, decided_on = await propose_decided(self._store, self.view, serialized, attempts)
        if result is not None:
            await self._wait_for_view(result["index"])
        return result, decided_on

    async def network_create(self, request: Request) -> dict:
        """``{spec}``: a new network (checked: networks.checked_network_spec); the allocator gives it its
        subnet and VXLAN id. Returns the network as stored."""
        network_id = schema.new_id()

        def decide():
            spec = networks.checked_network_spec(request.body.get("spec"), self.view.table("networks"))
            return [{"op": "create", "table": "networks", "object": {"ID": network_id, "Spec": spec}}], None
        await self._serialized_write(decide)
        return self.view.table("networks")[network_id]

    async def network_ls(self, request: Request) -> Stream:
        """Every network, by name, streamed."""
        return Stream(sorted(self.view.table("networks").values(), key=lambda n: (n["Spec"]["Name"], n["ID"])))

    async def network_inspect(self, request: Request) -> dict:
        """``{ref}``: the network, with the services and tasks attached and their addresses (networks.inspected)."""
        network = networks.resolve_network(self.view.table("networks"), request.body.get("ref"))
        return networks.inspected(network, self.view.table("services"), self.view.table("tasks"), self.view.table("nodes"))

    async def network_rm(self, request: Request) -> dict:
        """``{ref}``: remove the network unless a service or task uses it (RpcError ``refused`` naming them)."""
        def decide():
            network = networks.resolve_network(self.view.table("networks"), request.body.get("ref"))
            refusal = self._network_users(network)
            if refusal:
                raise RpcError("refused", refusal)
            return [{"op": "delete", "table": "networks", "id": network["ID"], "version": schema.version_of(network)}], network
        _, network = await self._serialized_write(decide)
        return {"id": network["ID"], "name": network["Spec"]["Name"]}

    async def network_prune(self, request: Request) -> dict:
        """Remove every network no service or task uses (``ingress`` is kept). Returns ``{"removed": [names]}``."""
        def decide():
            unused = [n for n in self.view.table("networks").values()
                      if not objects.is_ingress(n) and self._network_users(n) is None]
            return ([{"op": "delete", "table": "networks", "id": n["ID"], "version": schema.version_of(n)}
                     for n in unused], sorted(n["Spec"]["Name"] for n in unused))
        _, removed = await self._serialized_write(decide)
        return {"removed": removed}

    # -- secrets and configs ---------------------------------------------------
    async def object_create(self, kind: secrets.Kind, request: Request) -> dict:
        """``{spec: {Name, Labels}, data}``: a new secret (its data sealed with the data key) or config.
        Returns ``{"id"}``."""
        data = secrets.checked_data(kind, request.body.get("data"))
        spec = secrets.checked_spec(kind, request.body.get("spec"))
        secrets.name_taken(kind, self.view.table(kind.table), spec["Name"])
        obj = secrets.new_object(kind, schema.new_id(), spec, data, self.data_key.key_id, self.data_key.key)
        await self._write([{"op": "create", "table": kind.table, "object": obj}])
        return {"id": obj["ID"]}

    async def object_ls(self, kind: secrets.Kind, request: Request) -> Stream:
        """``{filters?}``: the secrets or configs the filters keep (secrets.listed), by name, streamed."""
        return Stream(secrets.listed(self.view.table(kind.table), request.body.get("filters")))

    async def object_inspect(self, kind: secrets.Kind, request: Request) -> dict:
        """``{ref}``: the secret or config (a secret without its data)."""
        return secrets.shown(resolve(self.view.table(kind.table), kind.table, request.body.get("ref")))

    async def object_rm(self, kind: secrets.Kind, request: Request) -> dict:
        """``{ref}``: remove the secret or config unless a service's spec references it (RpcError ``refused``)."""
        obj = resolve(self.view.table(kind.table), kind.table, request.body.get("ref"))
        refusal = secrets.removal_refusal(kind, obj, self.view.table("services"))
        if refusal:
            raise RpcError("refused", refusal)
        await self._write([{"op": "delete", "table": kind.table, "id": obj["ID"], "version": schema.version_of(obj)}])
        return {"id": obj["ID"], "name": obj["Spec"]["Name"]}

    async def object_update(self, kind: secrets.Kind, request: Request) -> dict:
        """``{ref, version, spec: {Name, Labels}, data?}``: Docker's update of a secret or config, which may
        change only its labels (labelupdate.label_changes). Returns ``{"id"}``."""
        body = request.body
        obj = resolve(self.view.table(kind.table), kind.table, body.get("ref"))
        changes = labelupdate.label_changes(kind, obj, body.get("version"), body.get("spec"), body.get("data"),
                                            self.data_key.key)
        if changes:
            await self._patch_as_read(kind.table, obj, changes)
        return {"id": obj["ID"]}

    async def secret_rotate(self, request: Request) -> dict:
        """``{ref, data}``: the secret's new value and, in the same proposal, ForceUpdate + 1 for each service
        using it (secrets.rotation_ops). Returns ``{"id", "services": [names rolled]}``."""
        data = secrets.checked_data(secrets.SECRET, request.body.get("data"))
        key = self.data_key

        def decide():
            secret = resolve(self.view.table("secrets"), "secrets", request.body.get("ref"))
            ops, rolled = secrets.rotation_ops(secret, secrets.sealed(secret["ID"], data, key.key_id, key.key),
                                               self.view.table("services"))
            return ops, (secret["ID"], rolled)
        result, (secret_id, rolled) = await propose_decided(self._store, self.view, decide, ROTATE_ATTEMPTS)
        await self._wait_for_view(result["index"])
        return {"id": secret_id, "services": rolled}


async def main(actor: ActorContext) -> None:
    """Entry point of the ``controlapi`` actor."""
    await ControlApi(actor).run()
