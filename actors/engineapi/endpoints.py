"""What each endpoint asks of the control API, and what it answers: a request in, the control-API calls in
order, an :class:`Answer` out. The control API decides (authorisation, limits, errors); the shapes are
``translate``'s. Only ``call`` and ``sleep`` do IO."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import urllib.parse
from typing import AsyncIterator, Awaitable, Callable

from actors.common import filters
from actors.engineapi import routes, translate, versions
from actors.engineapi.logstream import MULTIPLEXED, RAW, LogRounds, log_query
from actors.engineapi.translate import (EngineError, HostFacts, check_version, filters_of, info_out, json_object, meaningful,
                                        network_out, network_spec_in, node_update_body, object_create_body, query_bool,
                                        query_int, service_out, service_spec_in, swarm_out, up_to_date, version_out)
from transport.rpccall import RpcError

Call = Callable[[str, dict], Awaitable]

ALREADY_IN_SWARM = ('This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and '
                    "join another one.")
LABEL = filters.label("Spec.Labels")
NETWORK_RM_WAIT, NETWORK_RM_RETRY = 15.0, 0.25
NETWORK_LS = {**filters.NETWORK_LS, "type": lambda network, value: value == "custom"}  # no builtin networks
# Swarm settings that ``POST /swarm/update`` changes: the path in Docker's Spec -> the control API's name.
SWARM_SETTINGS = {("Orchestration", "TaskHistoryRetentionLimit"): "task_history_limit",
                  ("Dispatcher", "HeartbeatPeriod"): "dispatcher_heartbeat",
                  ("EncryptionConfig", "AutoLockManagers"): "autolock"}


@dataclasses.dataclass
class Request:
    """One HTTP request, parsed: ``params`` from the path, ``query`` its last value of each parameter,
    ``version`` the API version it speaks."""

    method: str
    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    version: str


@dataclasses.dataclass
class Answer:
    """An HTTP answer: a JSON document (``body``; None for an empty answer), a plain ``text``, or a ``stream``
    of byte chunks of ``media_type`` (sent chunked as they come)."""

    status: int
    body: object = None
    text: str | None = None
    stream: AsyncIterator[bytes] | None = None
    media_type: str = ""


def _without_settings(section: str, value):
    """A section of Docker's swarm Spec without the fields of SWARM_SETTINGS."""
    if not isinstance(value, dict):
        return value
    return {key: item for key, item in value.items() if (section, key) not in SWARM_SETTINGS}


class Endpoints:
    """The endpoints of ``routes.ROUTES``, each ``async (Request) -> Answer`` over ``call``, the local control
    API (``call(kind, body)`` returns its reply or raises RpcError); ``sleep`` waits between retries."""

    def __init__(self, call: Call, host: HostFacts, node_addr: str, sleep=asyncio.sleep, poll_seconds: float = 0.5):
        self._call = call
        self._poll_seconds = poll_seconds  # between rounds of a followed log
        self._sleep = sleep
        self._host = host
        self._node_addr = node_addr

    async def respond(self, method: str, target: str, body: bytes) -> tuple[str, Answer]:
        """``(endpoint name, answer)`` for an HTTP request: its version prefix checked (dockerd's refusals),
        routed, answered; an EngineError or a control-API error becomes Docker's ``{"message": ...}`` with
        its status. The name is ``not_found`` for a path no route has."""
        path, _, query_text = target.partition("?")
        version, path = versions.split(path)
        name, params = routes.match(method, path)
        try:
            if name is None:
                raise EngineError(404, routes.NOT_FOUND)
            refusal = versions.refusal(version)
            if refusal:
                raise EngineError(400, refusal)
            query = dict(urllib.parse.parse_qsl(query_text, keep_blank_values=True))
            return name, await getattr(self, name)(Request(method, params, query, body, version))
        except EngineError as exc:
            return name or "not_found", Answer(exc.status, {"message": exc.message})
        except RpcError as exc:
            error = translate.error_of(exc.code, exc.message)
            return name, Answer(error.status, {"message": error.message})

    # -- system ------------------------------------------------------------------------------------
    async def ping(self, request: Request) -> Answer:
        return Answer(200, text="OK")

    async def version(self, request: Request) -> Answer:
        return Answer(200, version_out(self._host))

    async def info(self, request: Request) -> Answer:
        info = await self._call("info", {})
        nodes = await self._call("node_ls", {})
        return Answer(200, info_out(info, nodes, self._host, self._node_addr))

    async def no_such_object(self, request: Request) -> Answer:
        raise EngineError(404, f"No such {request.params['kind']}: {request.params['id']} "
                               f"(Shoal's Engine API serves no {request.params['kind']}s)")

    async def unserved(self, request: Request) -> Answer:
        raise EngineError(501, routes.UNSERVED_MESSAGE.format(method=request.method, path=request.params["path"]))

    # -- swarm -------------------------------------------------------------------------------------
    async def swarm_inspect(self, request: Request) -> Answer:
        return Answer(200, swarm_out(await self._call("swarm_inspect", {})))

    async def swarm_join(self, request: Request) -> Answer:
        raise EngineError(503, ALREADY_IN_SWARM)

    async def swarm_update(self, request: Request) -> Answer:
        """Token rotations and the settings of SWARM_SETTINGS; any other change of the spec is refused
        (zero values, which a Go client sends for every field it knows, change nothing)."""
        cluster = await self._call("swarm_inspect", {})
        check_version(cluster, query_int(request.query, "version"))
        spec, current = json_object(request.body), cluster.get("Spec") or {}
        settings = {}
        for (section, field), setting in SWARM_SETTINGS.items():
            value, stored = (spec.get(section) or {}).get(field), (current.get(section) or {}).get(field)
            if value != stored and not (stored is None and not value):
                settings[setting] = value
        changed = [key for key in sorted(set(spec) | set(current))
                   if meaningful(_without_settings(key, spec.get(key))) != meaningful(_without_settings(key, current.get(key)))]
        if changed:
            raise EngineError(400, f"swarm setting {changed[0]} cannot be changed on Shoal: it changes only "
                                   + ", ".join(".".join(path) for path in SWARM_SETTINGS))
        if settings:
            await self._call("swarm_update", settings)
        for role, parameter in (("worker", "rotateWorkerToken"), ("manager", "rotateManagerToken")):
            if query_bool(request.query, parameter):
                await self._call("join_token", {"role": role, "rotate": True})
        if query_bool(request.query, "rotateManagerUnlockKey"):
            await self._call("unlock_key", {"rotate": True})
        return Answer(200)

    async def swarm_unlock_key(self, request: Request) -> Answer:
        """The unlock key of an autolocked swarm (the control API's ``not_found`` when autolock is off)."""
        return Answer(200, {"UnlockKey": (await self._call("unlock_key", {}))["key"]})

    # -- nodes -------------------------------------------------------------------------------------
    async def node_list(self, request: Request) -> Answer:
        wanted = filters_of(request.query, translate.NODE_FILTERS)
        return Answer(200, filters.keep(await self._call("node_ls", {}), wanted, filters.NODE_LS))

    async def node_inspect(self, request: Request) -> Answer:
        return Answer(200, await self._call("node_inspect", {"ref": request.params["id"]}))

    async def node_update(self, request: Request) -> Answer:
        node = await self._call("node_inspect", {"ref": request.params["id"]})
        check_version(node, query_int(request.query, "version"))
        await self._call("node_update", node_update_body(node, translate.json_body(request.body)))
        return Answer(200)

    async def node_delete(self, request: Request) -> Answer:
        await self._call("node_rm", {"ref": request.params["id"], "force": query_bool(request.query, "force")})
        return Answer(200)

    # -- services ----------------------------------------------------------------------------------
    async def service_list(self, request: Request) -> Answer:
        wanted = filters_of(request.query, translate.SERVICE_FILTERS)
        status = versions.at_least(request.version, "1.41") and query_bool(request.query, "status")
        rows = await self._call("service_ls", {})
        return Answer(200, [service_out(row["service"], row if status else None) for row in rows
                            if filters.keep([row["service"]], wanted, filters.SERVICE_LS)])

    async def service_create(self, request: Request) -> Answer:
        spec = service_spec_in(translate.json_body(request.body))
        service = await self._call("service_create", {"spec": spec})
        return Answer(201, {"ID": service["ID"], "Warnings": []})

    async def service_inspect(self, request: Request) -> Answer:
        return Answer(200, await self._call("service_inspect", {"ref": request.params["id"]}))

    async def service_update(self, request: Request) -> Answer:
        """A new spec, or with ``rollback=previous`` the previous one; ``version`` as Docker requires it. A
        spec without Shoal's own settings (a Go client drops fields it does not know) keeps the service's."""
        version = query_int(request.query, "version")
        if version is None:
            raise EngineError(400, "invalid version: the version parameter is required")
        ref = request.params["id"]
        if request.query.get("rollback") == "previous":
            await self._call("service_rollback", {"ref": ref, "version": version})
            return Answer(200, {"Warnings": []})
        spec = service_spec_in(translate.json_body(request.body))
        current = await self._call("service_inspect", {"ref": ref})
        if "Shoal" not in spec and "Shoal" in current["Spec"]:
            spec["Shoal"] = current["Spec"]["Shoal"]
        await self._call("service_update", {"ref": current["ID"], "version": version, "spec": spec})
        return Answer(200, {"Warnings": []})

    async def service_delete(self, request: Request) -> Answer:
        await self._call("service_rm", {"ref": request.params["id"]})
        return Answer(200)

    async def service_logs(self, request: Request) -> Answer:
        service = await self._call("service_inspect", {"ref": request.params["id"]})  # a task's id is no service
        return await self._logs(service["ID"], request)

    async def task_logs(self, request: Request) -> Answer:
        return await self._logs(request.params["id"], request)

    async def _logs(self, ref: str, request: Request) -> Answer:
        """The logs of ``ref`` as dockerd streams them (logstream.py): the first round is asked before the
        answer starts, so an unknown ref or a bad parameter gets its status; then, with ``follow``, a round
        every poll_seconds until the service or task is gone (the caller stops when the client leaves)."""
        rounds = LogRounds(ref, log_query(request.query, time.time_ns()))
        first = rounds.chunk(await self._call("service_logs", rounds.request()))

        async def chunks():
            yield first
            while rounds.again():
                if not rounds.more:
                    await self._sleep(self._poll_seconds)
                try:
                    reply = await self._call("service_logs", rounds.request())
                except RpcError as exc:  # the answer has started: dockerd's error stream says it
                    yield rounds.error(exc.message)
                    return
                yield rounds.chunk(reply)

        return Answer(200, stream=chunks(), media_type=RAW if rounds.tty else MULTIPLEXED)

    # -- tasks -------------------------------------------------------------------------------------
    async def _tasks(self, wanted: dict[str, list[str]]) -> list[dict]:
        """The tasks of the services ``wanted["service"]`` names (of every service without it), kept by the
        other filters of ``wanted``."""
        refs = wanted.get("service") or [row["service"]["ID"] for row in await self._call("service_ls", {})]
        tasks, services, hostnames = [], {}, {}
        for ref in refs:
            for item in await self._call("service_ps", {"ref": ref}):
                if "service" in item:
                    services[item["service"]["ID"]] = item["service"]
                elif "task" in item:
                    tasks.append(item["task"])
                else:
                    hostnames[item["node"]] = item["hostname"]
        names = {service_id: service["Spec"]["Name"] for service_id, service in services.items()}
        matchers = {**filters.task_filters(names, hostnames), "_up-to-date": lambda task, _: up_to_date(task, services),
                    # as swarmkit: a task's labels are its service's (docker stack ps filters on the stack's)
                    "label": lambda task, value: LABEL(services.get(task["ServiceID"]) or {}, value)}
        return filters.keep(tasks, {key: values for key, values in wanted.items() if key != "service"}, matchers)

    async def task_list(self, request: Request) -> Answer:
        return Answer(200, await self._tasks(filters_of(request.query, translate.TASK_FILTERS)))

    async def task_inspect(self, request: Request) -> Answer:
        ref = request.params["id"]
        found = await self._tasks({"id": [ref]})  # by prefix: the exact one first
        found = [task for task in found if task["ID"] == ref] or found
        if len(found) != 1:
            raise EngineError(404, f"no such task: {ref}")
        return Answer(200, found[0])

    # -- networks ----------------------------------------------------------------------------------
    async def network_list(self, request: Request) -> Answer:
        wanted = filters_of(request.query, translate.NETWORK_FILTERS)
        return Answer(200, [network_out(n) for n in filters.keep(await self._call("network_ls", {}), wanted, NETWORK_LS)])

    async def network_inspect(self, request: Request) -> Answer:
        return Answer(200, network_out(await self._call("network_inspect", {"ref": request.params["id"]})))

    async def network_create(self, request: Request) -> Answer:
        network = await self._call("network_create", {"spec": network_spec_in(json_object(request.body))})
        return Answer(201, {"Id": network["ID"], "Warning": ""})

    async def network_delete(self, request: Request) -> Answer:
        """Remove the network; while the control API refuses only because tasks of services already removed
        still hold addresses on it (``docker stack rm`` removes a stack's services, then at once its
        networks), ask again every NETWORK_RM_RETRY s for at most NETWORK_RM_WAIT s, as the tasks stop."""
        ref = request.params["id"]
        for attempt in range(int(NETWORK_RM_WAIT / NETWORK_RM_RETRY) + 1):
            try:
                await self._call("network_rm", {"ref": ref})
                return Answer(204)
            except RpcError as exc:
                if exc.code != "refused" or attempt * NETWORK_RM_RETRY >= NETWORK_RM_WAIT or not await self._held_by_the_removed(ref):
                    raise
            await self._sleep(NETWORK_RM_RETRY)

    async def _held_by_the_removed(self, ref: str) -> bool:
        """True when no service that exists now is among those on network ``ref`` (only tasks of removed ones)."""
        on = set((await self._call("network_inspect", {"ref": ref})).get("Services") or {})
        existing = {row["service"]["Spec"]["Name"] for row in await self._call("service_ls", {})}
        return not on & existing

    async def network_prune(self, request: Request) -> Answer:
        if request.query.get("filters", "{}") not in ("", "{}"):
            raise EngineError(400, "network prune takes no filters on Shoal")
        return Answer(200, {"NetworksDeleted": (await self._call("network_prune", {}))["removed"]})

    # -- secrets and configs: the same four endpoints each ---------------------------------------------
    async def _object_list(self, noun: str, request: Request) -> Answer:
        wanted = filters_of(request.query, translate.OBJECT_FILTERS)
        return Answer(200, await self._call(f"{noun}_ls", {"filters": wanted}))

    async def _object_create(self, noun: str, request: Request) -> Answer:
        created = await self._call(f"{noun}_create", object_create_body(noun, json_object(request.body)))
        return Answer(201, {"ID": created["id"]})

    async def _object_inspect(self, noun: str, request: Request) -> Answer:
        return Answer(200, await self._call(f"{noun}_inspect", {"ref": request.params["id"]}))

    async def _object_update(self, noun: str, request: Request) -> Answer:
        body = translate.object_update_body(noun, request.params["id"], query_int(request.query, "version"),
                                            json_object(request.body))
        await self._call(f"{noun}_update", body)
        return Answer(200)

    async def _object_delete(self, noun: str, request: Request) -> Answer:
        await self._call(f"{noun}_rm", {"ref": request.params["id"]})
        return Answer(204)

    async def secret_list(self, request: Request) -> Answer:
        return await self._object_list("secret", request)

    async def secret_create(self, request: Request) -> Answer:
        return await self._object_create("secret", request)

    async def secret_inspect(self, request: Request) -> Answer:
        return await self._object_inspect("secret", request)

    async def secret_delete(self, request: Request) -> Answer:
        return await self._object_delete("secret", request)

    async def secret_update(self, request: Request) -> Answer:
        return await self._object_update("secret", request)

    async def config_list(self, request: Request) -> Answer:
        return await self._object_list("config", request)

    async def config_create(self, request: Request) -> Answer:
        return await self._object_create("config", request)

    async def config_inspect(self, request: Request) -> Answer:
        return await self._object_inspect("config", request)

    async def config_delete(self, request: Request) -> Answer:
        return await self._object_delete("config", request)

    async def config_update(self, request: Request) -> Answer:
        return await self._object_update("config", request)
