"""The executor's Docker adapter: containers of one node, by Shoal's labels.

Every container a node runs carries ``shoal.node.id``, ``shoal.service.id``,
``shoal.service.name``, ``shoal.task.id`` and ``shoal.task.name``, so several
nodes can share one engine and an executor that restarts finds (adopts) its
containers instead of starting duplicates. All methods block; the actor
calls them from a thread pool. Engine failures raise :class:`EngineError`
with the engine's own explanation.
"""

from __future__ import annotations

import platform
import re
import threading
import time
from typing import Callable

import docker
import docker.errors

from actors.executor.core import ObservedContainer
from transport import schema

_EXIT_CODE = re.compile(r"Exited \((-?\d+)\)")
EVENT_WINDOW = 2.0


class EngineError(Exception):
    """The engine refused or failed an operation; the message is the engine's."""


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    return str(exc)


def _engine_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (docker.errors.DockerException, OSError) as exc:
        raise EngineError(_explain(exc)) from exc


class DockerEngine:
    """Creates, starts, stops, removes and lists the containers of node ``node_id``."""

    def __init__(self, node_id: str, client: docker.DockerClient | None = None):
        self.node_id = node_id
        self._client = client or docker.from_env(timeout=60)
        self._api = self._client.api

    def list_containers(self) -> list[ObservedContainer]:
        """Every container (any state) labelled with this node."""
        rows = _engine_call(self._api.containers, all=True, filters={"label": f"shoal.node.id={self.node_id}"})
        return [ObservedContainer(task_id=row["Labels"].get("shoal.task.id", ""), container_id=row["Id"],
                                  state=row["State"], exit_code=_exit_code(row.get("Status", "")))
                for row in rows]

    def observe(self, container_id: str) -> ObservedContainer:
        """The current state of one container (from a full inspect)."""
        info = _engine_call(self._api.inspect_container, container_id)
        state = info["State"]
        return ObservedContainer(task_id=info["Config"]["Labels"].get("shoal.task.id", ""), container_id=info["Id"],
                                 state=state["Status"], exit_code=state.get("ExitCode"), pid=state.get("Pid", 0),
                                 error=state.get("Error", ""))

    def create(self, task: dict) -> str:
        """Create (not start) the task's container; returns its id."""
        spec = task["Spec"].get("ContainerSpec", {})
        service_name = schema.get_path(task, "ServiceAnnotations.Name", "")
        labels = dict(spec.get("Labels") or {})
        labels.update({"shoal.node.id": self.node_id, "shoal.service.id": task["ServiceID"],
                       "shoal.service.name": service_name, "shoal.task.id": task["ID"],
                       "shoal.task.name": schema.task_name(service_name, task)})
        ports = {f"{p['TargetPort']}/{p.get('Protocol', 'tcp')}": p["PublishedPort"]
                 for p in schema.get_path(task, "Endpoint.Ports", []) or [] if p.get("PublishMode") == "host"}
        host_config = _engine_call(self._api.create_host_config, port_bindings=ports or None)
        name = f"{schema.task_name(service_name, task)}.{task['ID']}"
        created = _engine_call(self._api.create_container, image=spec["Image"], name=name, labels=labels,
                               entrypoint=spec.get("Command") or None, command=spec.get("Args") or None,
                               environment=spec.get("Env") or None, ports=list(ports) or None,
                               host_config=host_config, detach=True)
        return created["Id"]

    def start(self, container_id: str) -> None:
        """Start a created container."""
        _engine_call(self._api.start, container_id)

    def stop(self, container_id: str, timeout: int) -> None:
        """Stop a container: SIGTERM, SIGKILL after ``timeout`` seconds."""
        _engine_call(self._api.stop, container_id, timeout=timeout)

    def remove(self, container_id: str) -> None:
        """Remove a container (killing it if it still runs); a missing one is fine."""
        try:
            self._api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            return
        except (docker.errors.DockerException, OSError) as exc:
            raise EngineError(_explain(exc)) from exc

    def engine_description(self) -> dict:
        """This node's ``Description`` in Docker's shape (hostname, platform, resources, engine)."""
        info = _engine_call(self._client.info)
        return {"Hostname": platform.node(),
                "Platform": {"Architecture": info.get("Architecture", platform.machine()), "OS": info.get("OSType", "linux")},
                "Resources": {"NanoCPUs": int(info.get("NCPU", 0)) * 1_000_000_000, "MemoryBytes": int(info.get("MemTotal", 0))},
                "Engine": {"EngineVersion": info.get("ServerVersion", "")}}

    def watch_events(self, callback: Callable[[str], None], stop: threading.Event) -> None:
        """Call ``callback(task_id)`` for every start/die/destroy of this node's containers until ``stop`` is set.

        Reads the event stream in short windows so that it notices ``stop``
        within EVENT_WINDOW seconds; an engine error pauses it for a second.
        """
        since = time.time()
        filters = {"type": "container", "label": f"shoal.node.id={self.node_id}",
                   "event": ["start", "die", "destroy", "oom", "kill"]}
        while not stop.is_set():
            until = time.time() + EVENT_WINDOW
            try:
                for event in self._api.events(since=since, until=until, filters=filters, decode=True):
                    callback(event.get("Actor", {}).get("Attributes", {}).get("shoal.task.id", ""))
            except (docker.errors.DockerException, OSError):
                stop.wait(1.0)
            since = until


def _exit_code(status_text: str) -> int | None:
    match = _EXIT_CODE.search(status_text)
    return int(match.group(1)) if match else None
