"""The executor's Docker adapter: the containers of one node, found by Shoal's labels.

Every container a node runs carries ``shoal.node.id``, ``shoal.service.id``,
``shoal.service.name``, ``shoal.task.id`` and ``shoal.task.name``, so several
nodes can share one engine and an executor that restarts finds (adopts) its
containers instead of starting duplicates. Containers are named
``<service>.<slot or node id>.<task id>`` as Swarm names them.

Every method blocks and is safe to call from several threads at once (the
actor runs them in a thread pool). Engine failures raise :class:`EngineError`
carrying the engine's own explanation (``No such image: nosuch:latest``);
:class:`EngineUnavailable` when the engine cannot be reached at all (it is
restarting, say): the client is made on first use and reconnects by itself,
so the executor only waits for the engine to come back.
"""

from __future__ import annotations

import platform
import threading
import time
from typing import Callable

import docker
import docker.errors
import docker.utils
import requests.exceptions
import urllib3.exceptions

from actors.common.clock import ViewClock
from actors.executor import options, taskfiles, templates
from actors.executor.tmpfs import TaskTmpfs
from actors.executor.core import ObservedContainer
from actors.network import dns
from transport import limits, model, schema

LABEL_NODE = "shoal.node.id"
LABEL_SERVICE_ID = "shoal.service.id"
LABEL_SERVICE_NAME = "shoal.service.name"
LABEL_TASK_ID = "shoal.task.id"
LABEL_TASK_NAME = "shoal.task.name"

WATCHED_EVENTS = ("start", "die", "destroy", "health_status")
EVENT_WINDOW = 2.0  # seconds per event-stream request: how soon watch_events notices its stop event
API_TIMEOUT = 60  # seconds for one engine request (a stop adds its own grace period)
CONNECTIONS = 40  # pooled engine connections: the executor's two lanes of 16 actions, its list and event requests
# Engine states whose inspect details (pid, times, exit code) cannot change while the state holds,
# since Shoal never restarts a container; a created container can gain a start error. A running
# container's health can change: the list shows it in its Status text (health_of_row).
STABLE_STATES = frozenset(("running", "exited", "dead"))
HEALTH_STATES = ("starting", "healthy", "unhealthy")
START_INTERVAL_API = "1.44"  # the first engine API with a health check's StartInterval


class EngineError(Exception):
    """The engine refused or failed an operation; the message is the engine's explanation."""


class EngineUnavailable(EngineError):
    """The engine could not be reached (no socket, connection refused or reset): nothing was done."""


def _unreachable(exc: Exception) -> bool:
    """True when ``exc`` says the engine could not be reached, rather than that it refused."""
    while exc is not None:
        if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _failure(exc: Exception) -> EngineError:
    """The EngineError (or EngineUnavailable) that stands for a docker-py failure."""
    return (EngineUnavailable if _unreachable(exc) else EngineError)(_explain(exc))


def _explain(exc: Exception) -> str:
    """The engine's own words for a failure, without docker-py's HTTP preamble."""
    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return str(exc.explanation)
    return str(exc)


def _engine_call(fn, *args, **kwargs):
    """Call a docker-py function, turning its failures into EngineError."""
    try:
        return fn(*args, **kwargs)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise _failure(exc) from exc


def _engine_call_unless_missing(fn, *args, **kwargs):
    """Like :func:`_engine_call`, but None when the engine says the object does not exist."""
    try:
        return fn(*args, **kwargs)
    except docker.errors.NotFound:
        return None
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise _failure(exc) from exc


def _engine_time(text: str) -> float:
    """Epoch seconds of an engine timestamp; 0.0 for the engine's zero time (never happened)."""
    moment = schema.parse_time(text or "")
    return moment if moment > 0 else 0.0


def _health(status) -> str:
    """starting, healthy or unhealthy; "" for anything else (no health check)."""
    return status if status in HEALTH_STATES else ""


def observed_from_inspect(info: dict) -> ObservedContainer:
    """An ObservedContainer from the engine's inspect document of a container."""
    state, config = info["State"], info["Config"]
    return ObservedContainer(task_id=(config.get("Labels") or {}).get(LABEL_TASK_ID, ""),
                             container_id=info["Id"], state=state["Status"], exit_code=state.get("ExitCode", 0),
                             error=state.get("Error", ""), started_at=_engine_time(state.get("StartedAt")),
                             finished_at=_engine_time(state.get("FinishedAt")), pid=state.get("Pid", 0),
                             health=_health((state.get("Health") or {}).get("Status")),
                             stop_timeout=config.get("StopTimeout"))


def health_of_row(row: dict) -> str:
    """A container's health as a container-list row shows it in its Status text
    (``Up 3 seconds (health: starting)``, ``(healthy)``, ``(unhealthy)``); "" without a check."""
    status = row.get("Status") or ""
    for marker, health in (("(health: starting)", "starting"), ("(healthy)", "healthy"), ("(unhealthy)", "unhealthy")):
        if marker in status:
            return health
    return ""


def container_name(task: dict) -> str:
    """Swarm's container name for a task: ``web.3.<task id>`` or ``web.<node id>.<task id>``."""
    return f"{schema.task_name(schema.get_path(task, 'ServiceAnnotations.Name', ''), task)}.{task['ID']}"


def container_labels(task: dict, node_id: str) -> dict:
    """The ContainerSpec's labels plus Shoal's, which win on a clash."""
    service_name = schema.get_path(task, "ServiceAnnotations.Name", "")
    labels = dict(schema.get_path(task, "Spec.ContainerSpec.Labels") or {})
    labels.update({LABEL_NODE: node_id, LABEL_SERVICE_ID: task.get("ServiceID", ""),
                   LABEL_SERVICE_NAME: service_name, LABEL_TASK_ID: task["ID"],
                   LABEL_TASK_NAME: schema.task_name(service_name, task)})
    return labels


class DockerEngine:
    """Creates, starts, stops, removes, lists and watches the containers of node ``node_id``."""

    def __init__(self, node_id: str, client: docker.DockerClient | None = None):
        """Use ``client``, or one from the environment (DOCKER_HOST...) made on first use."""
        self.node_id = node_id
        self._made: docker.DockerClient | None = client
        self._stable: dict[str, ObservedContainer] = {}  # container id -> details while its state is stable
        self._node: dict | None = None  # this node's id and Description, for templates; read once
        self._tmpfs = TaskTmpfs(node_id)
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        # The host's network state (actors/network/hoststate.py), None before the first: the host's
        # network agent sets it, for the DNS servers of a task's container.
        self.network_state: Callable[[], dict | None] = lambda: None

    @property
    def _client(self) -> docker.DockerClient:
        """The engine client, made from the environment on first use; EngineUnavailable (or EngineError)
        while it cannot be made (making one asks the engine for its API version)."""
        with self._client_lock:
            if self._made is None:
                self._made = _engine_call(docker.from_env, timeout=API_TIMEOUT, max_pool_size=CONNECTIONS)
            return self._made

    @property
    def _api(self) -> docker.APIClient:
        return self._client.api

    def docker_client(self) -> docker.DockerClient:
        """The engine client (made on first use), for the host's bridge networks (actors/network/bridges.py)."""
        return self._client

    # -- observing -------------------------------------------------------------
    def list_containers(self) -> list[ObservedContainer]:
        """Every container labelled with this node, in any state, with its inspect details.

        Details of a container whose state has not changed since the last call
        come from memory, so a call costs one engine request plus one per
        container that changed. A container that vanishes meanwhile is left out.
        """
        rows = _engine_call(self._api.containers, all=True, filters={"label": f"{LABEL_NODE}={self.node_id}"})
        observed = [container for container in map(self._observe_row, rows) if container is not None]
        with self._lock:
            self._stable = {c.container_id: c for c in observed if c.state in STABLE_STATES}
        return observed

    def _observe_row(self, row: dict) -> ObservedContainer | None:
        """Details of one container-list row: remembered if its state is unchanged, else inspected."""
        with self._lock:
            known = self._stable.get(row["Id"])
        if known is not None and known.state == row["State"] and known.health == health_of_row(row):
            return known
        info = _engine_call_unless_missing(self._api.inspect_container, row["Id"])
        return observed_from_inspect(info) if info is not None else None

    def inspect(self, container_id: str) -> ObservedContainer:
        """The current state of one container, from the engine's inspect."""
        return observed_from_inspect(_engine_call(self._api.inspect_container, container_id))

    def engine_description(self) -> dict:
        """This node's ``Description`` in Docker's shape: Hostname, Platform, Resources, Engine."""
        info = _engine_call(self._client.info)
        return {"Hostname": info.get("Name") or platform.node(),
                "Platform": {"Architecture": info.get("Architecture") or platform.machine(),
                             "OS": info.get("OSType") or "linux"},
                "Resources": {"NanoCPUs": int(info.get("NCPU", 0)) * 1_000_000_000,
                              "MemoryBytes": int(info.get("MemTotal", 0))},
                "Engine": {"EngineVersion": info.get("ServerVersion", ""),
                           "Labels": engine_labels(info.get("Labels"))}}

    # -- acting ----------------------------------------------------------------
    def create(self, task: dict, file_mounts: list[dict] = ()) -> str:
        """Create (not start) the task's container from its spec (options.create_arguments), attached to
        each of its networks, with ``file_mounts`` (:meth:`put_task_files`); returns the container id. A
        template that cannot be expanded fails as an EngineError; so does a network the container cannot
        join (the container is then removed)."""
        try:
            arguments = options.create_arguments(task, self._node_for_templates(), self.network_state(),
                                                 host_resolvers() if task.get("NetworksAttachments") else [],
                                                 file_mounts)
        except templates.TemplateError as exc:
            raise EngineError(str(exc)) from None
        host_config = _engine_call(self._api.create_host_config, **arguments.host_config)
        # docker-py requires ``command`` (a spec with a Command and no Args has none to give): None means the image's
        config = _engine_call(self._api.create_container_config, labels=container_labels(task, self.node_id),
                              host_config=host_config, detach=True, **{"command": None, **arguments.container})
        self._add_start_interval(config, arguments.container.get("healthcheck") or {})
        container_id = _engine_call(self._api.create_container_from_config, config, container_name(task))["Id"]
        try:
            for network, address in arguments.networks:
                _engine_call(self._api.connect_container_to_network, container_id, network, ipv4_address=address)
        except EngineError:
            self.remove(container_id)
            raise
        return container_id

    def _add_start_interval(self, config: dict, healthcheck: dict) -> None:
        """Put the health check's StartInterval (which docker-py leaves out) into ``config``; an
        EngineError when the engine is too old to honour it, rather than silently ignoring it."""
        start_interval = healthcheck.get("StartInterval")
        if not start_interval:
            return
        version = self._api.api_version
        if docker.utils.version_lt(version, START_INTERVAL_API):
            raise EngineError(f"a health check start interval needs Docker Engine API {START_INTERVAL_API} "
                              f"(Docker 25) or later; this engine speaks {version}")
        config["Healthcheck"]["StartInterval"] = start_interval

    def _node_for_templates(self) -> dict:
        with self._lock:
            node = self._node
        if node is None:
            node = {"ID": self.node_id, "Description": self.engine_description()}
            with self._lock:
                self._node = node
        return node

    def put_task_files(self, task_id: str, files: tuple[taskfiles.TaskFile, ...]) -> list[dict]:
        """Put a task's secret and config files in a tmpfs of its own on the host (tmpfs.py); returns the
        bind mounts that show them in its container. EngineError when the host refuses."""
        try:
            return self._tmpfs.put(task_id, files)
        except OSError as exc:
            raise EngineError(f"cannot put the secrets and configs of task {task_id} in place: {exc}") from None

    def drop_task_files(self, task_id: str) -> None:
        """Unmount and remove a task's tmpfs; EngineError when the host refuses."""
        try:
            self._tmpfs.drop(task_id)
        except OSError as exc:
            raise EngineError(f"cannot remove the secrets and configs of task {task_id}: {exc}") from None

    def task_files(self) -> frozenset[str]:
        """The tasks whose files are on the host (a tmpfs, or a directory a crash left); EngineError when
        the host cannot list them."""
        try:
            return self._tmpfs.listed()
        except OSError as exc:
            raise EngineError(f"cannot list the task directories of this node: {exc}") from None

    def start(self, container_id: str) -> None:
        """Start a created container."""
        _engine_call(self._api.start, container_id)

    def stop(self, container_id: str, timeout: float) -> None:
        """Stop a container: its stop signal (SIGTERM unless created with another), then SIGKILL after
        ``timeout`` seconds; returns once it has stopped."""
        _engine_call(self._api.stop, container_id, timeout=int(timeout))

    def remove(self, container_id: str) -> None:
        """Remove a container (killing it if it still runs); one that is already gone is fine."""
        _engine_call_unless_missing(self._api.remove_container, container_id, force=True)

    # -- logs ------------------------------------------------------------------
    def read_logs(self, task_id: str, stream: str, since: float, tail: int, sink: Callable[[bytes], bool]) -> bool:
        """Read the timestamped output of this node's container of ``task_id`` on ``stream`` (stdout or
        stderr) from ``since`` (seconds; 0: the start), its last ``tail`` lines (all if negative), giving each
        chunk to ``sink`` until it returns False (then the read is closed early). False when the node has no
        container of that task; EngineError when the engine refuses."""
        rows = _engine_call(self._api.containers, all=True,
                            filters={"label": [f"{LABEL_NODE}={self.node_id}", f"{LABEL_TASK_ID}={task_id}"]})
        if not rows:
            return False
        chunks = _engine_call(self._api.logs, rows[0]["Id"], stdout=stream == "stdout", stderr=stream == "stderr",
                              stream=True, follow=False, timestamps=True, tail="all" if tail < 0 else tail,
                              since=since or None)
        try:
            for chunk in chunks:
                if not sink(chunk):
                    break
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
            raise _failure(exc) from exc
        finally:
            chunks.close()
        return True

    # -- events ----------------------------------------------------------------
    def watch_events(self, callback: Callable[[str], None], stop_event: threading.Event) -> None:
        """Call ``callback(task_id)`` on every start, die, destroy and health change of this node's containers,
        until ``stop_event`` is set; blocks, so run it in a thread of its own.

        It reads the event stream in windows of EVENT_WINDOW seconds, so it
        notices ``stop_event`` within that time; while the engine cannot be
        reached it retries every second from where it was. An event may be
        delivered twice (on a window's edge, or replayed after a retry).
        Windows follow the engine's clock (its SystemTime when reached, plus
        this process's monotonic time since), so a jump of this process's wall
        clock neither stalls the stream nor spins it.
        """
        filters = {"type": "container", "label": f"{LABEL_NODE}={self.node_id}", "event": list(WATCHED_EVENTS)}
        engine_clock, since = None, None
        while not stop_event.is_set():
            try:
                if engine_clock is None:
                    engine_clock = self._engine_clock()
                    since = since or engine_clock.now(time.monotonic(), time.time())
                until = engine_clock.now(time.monotonic(), time.time()) + EVENT_WINDOW
                for event in self._api.events(since=since, until=until, filters=filters, decode=True):
                    callback(event.get("Actor", {}).get("Attributes", {}).get(LABEL_TASK_ID, ""))
            except (docker.errors.DockerException, EngineError, OSError, urllib3.exceptions.HTTPError):
                engine_clock = None
                stop_event.wait(1.0)
                continue
            since = until

    def _engine_clock(self) -> ViewClock:
        """The engine's clock: its SystemTime now, advanced by this process's monotonic clock."""
        reported = _engine_call(self._client.info).get("SystemTime", "")
        try:
            engine_time = _engine_time(reported)
        except ValueError:  # a SystemTime with a zone offset: fall back to this host's clock
            engine_time = 0.0
        clock = ViewClock()
        clock.observed(engine_time or time.time(), time.monotonic())
        return clock


def host_resolvers() -> list[str]:
    """The host's own DNS servers (its /etc/resolv.conf), for a container's after the host's Shoal server."""
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as conf:
            return dns.resolv_conf_nameservers(conf.read())
    except OSError:
        return []


def engine_labels(listed) -> dict:
    """The engine's labels (``docker info``'s ``["key=value", ...]``) as a map, for ``engine.labels.*``
    constraints. A label the model would refuse is left out, and at most LABELS are kept: one odd label
    must not keep the node from registering."""
    labels: dict[str, str] = {}
    for entry in listed or []:
        key, _, value = str(entry).partition("=")
        try:
            model.labels({key: value}, "label")
        except model.Invalid:
            continue
        if len(labels) < limits.LABELS:
            labels.setdefault(key, value)
    return labels
