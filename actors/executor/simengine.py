"""A simulated container engine, in memory: the same interface as engine.DockerEngine, no Docker.

Simulated nodes (actors/simnodes) run the real executor over this engine, so
a benchmark can put thousands of tasks on hundreds of nodes of one machine.
Containers are records: ``create`` checks the task's spec as the real adapter
does (templates expanded, a container name used once), ``start`` takes the
engine's ``start_delay`` seconds (as a real start blocks until the process
runs) and the container then runs until it is stopped, removed, or told to
exit. A spec with a health check is healthy at once. A task's secret and
config files are kept in memory only (:meth:`SimEngine.put_task_files`), and
a container records the targets it mounts them at.

A task's environment (``ContainerSpec.Env``, after template expansion) can
tell its containers to fail:

- ``SHOAL_SIM_FAIL=create``: the create is refused (``No such image: IMAGE``),
  so the executor rejects the task, as with an image that is not there;
- ``SHOAL_SIM_FAIL=start``: the start is refused and the container stays
  created with the error, as when the engine cannot start the process;
- ``SHOAL_SIM_EXIT_AFTER=S`` (seconds) with ``SHOAL_SIM_EXIT_CODE=N`` (default
  0): the container exits S seconds after it started, with code N (a job that
  completes, or a process that crashes).

Every method is safe to call from several threads at once, as the executor
does. The clock and the sleep are parameters, so tests drive time.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import threading
import time
from typing import Callable

from actors.executor import options, taskfiles, templates
from actors.executor.core import ObservedContainer
from actors.executor.engine import EVENT_WINDOW, EngineError, container_name

FAIL_ENV = "SHOAL_SIM_FAIL"
EXIT_AFTER_ENV = "SHOAL_SIM_EXIT_AFTER"
EXIT_CODE_ENV = "SHOAL_SIM_EXIT_CODE"
SIM_ROOT = "/simulated"  # what a simulated host's task directories are named under (none exists)
STOP_EXIT_CODE = 143  # a process ended by its stop signal (SIGTERM), as the engine reports it
NANO_CPUS = 4_000_000_000  # what a simulated node says it has, unless told otherwise
MEMORY_BYTES = 8 << 30


@dataclasses.dataclass
class SimContainer:
    """One simulated container: its task, its state and what its spec asked of the simulation."""

    container_id: str
    name: str
    task_id: str
    state: str = "created"
    exit_code: int = 0
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    healthy: bool = False
    stop_timeout: int | None = None
    fail_start: bool = False
    exit_after: float | None = None
    exit_with: int = 0
    mounted: tuple[str, ...] = ()  # the targets its secret and config files are mounted at

    def observed(self) -> ObservedContainer:
        """What the executor sees of this container."""
        live = self.state == "running"
        return ObservedContainer(task_id=self.task_id, container_id=self.container_id, state=self.state,
                                 exit_code=self.exit_code, error=self.error, started_at=self.started_at,
                                 finished_at=self.finished_at, pid=1 if live else 0,
                                 health="healthy" if self.healthy and live else "", stop_timeout=self.stop_timeout)


def environment(entries: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` as a map (an entry without ``=`` maps to "")."""
    return dict(entry.partition("=")[::2] for entry in entries)


def exit_plan(env: dict[str, str]) -> tuple[float | None, int]:
    """(seconds after start at which the container exits, or None; its exit code), from its environment;
    EngineError for values that are not numbers."""
    try:
        after = float(env[EXIT_AFTER_ENV]) if EXIT_AFTER_ENV in env else None
        code = int(env.get(EXIT_CODE_ENV, "0"))
    except ValueError:
        raise EngineError(f"invalid {EXIT_AFTER_ENV} or {EXIT_CODE_ENV} in the container's environment") from None
    return after, code


class SimEngine:
    """The simulated containers of node ``node_id``: an in-memory stand-in for DockerEngine."""

    def __init__(self, node_id: str, hostname: str, start_delay: float = 0.0, nano_cpus: int = NANO_CPUS,
                 memory_bytes: int = MEMORY_BYTES, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        """A node called ``hostname`` whose starts take ``start_delay`` seconds, with the given resources."""
        self.node_id = node_id
        self.hostname = hostname
        self.start_delay = start_delay
        self._resources = {"NanoCPUs": nano_cpus, "MemoryBytes": memory_bytes}
        self._clock, self._sleep = clock, sleep
        self._containers: dict[str, SimContainer] = {}  # container id -> container
        self._events: list[str] = []  # task ids of changes not yet delivered to watch_events
        self._files: dict[str, tuple[taskfiles.TaskFile, ...]] = {}  # task id -> its secret and config files
        self._changed = threading.Condition()

    # -- observing -------------------------------------------------------------
    def list_containers(self) -> list[ObservedContainer]:
        """Every container of this node, in any state."""
        with self._changed:
            self._settle()
            return [container.observed() for container in self._containers.values()]

    def inspect(self, container_id: str) -> ObservedContainer:
        """The current state of one container; EngineError when there is no such container."""
        with self._changed:
            self._settle()
            return self._get(container_id).observed()

    def engine_description(self) -> dict:
        """This node's ``Description`` in Docker's shape: Hostname, Platform, Resources, Engine."""
        return {"Hostname": self.hostname, "Platform": {"Architecture": platform.machine(), "OS": "linux"},
                "Resources": dict(self._resources), "Engine": {"EngineVersion": "simulated", "Labels": {}}}

    # -- acting ----------------------------------------------------------------
    def create(self, task: dict, file_mounts: list[dict] = ()) -> str:
        """Create (not start) the task's container, with ``file_mounts`` (:meth:`put_task_files`); returns
        its id. Refused (EngineError) for a template that cannot be expanded, a name already in use, a
        spec that says SHOAL_SIM_FAIL=create, or a file mount whose file is not held."""
        node = {"ID": self.node_id, "Description": self.engine_description()}
        try:
            arguments = options.create_arguments(task, node, file_mounts=file_mounts)
        except templates.TemplateError as exc:
            raise EngineError(str(exc)) from None
        env = environment(arguments.container.get("environment") or [])
        if env.get(FAIL_ENV) == "create":
            raise EngineError(f"No such image: {arguments.container.get('image', '')}")
        exit_after, exit_with = exit_plan(env)
        name = container_name(task)
        check = (arguments.container.get("healthcheck") or {}).get("Test") or []
        container = SimContainer(os.urandom(32).hex(), name, task["ID"], healthy=bool(check) and check != ["NONE"],
                                 stop_timeout=arguments.container.get("stop_timeout"),
                                 fail_start=env.get(FAIL_ENV) == "start", exit_after=exit_after, exit_with=exit_with,
                                 mounted=tuple(mount["Target"] for mount in file_mounts))
        with self._changed:
            held = {mount["Source"] for mount in self._mounts(task["ID"], self._files.get(task["ID"], ()))}
            if any(mount["Source"] not in held for mount in file_mounts):
                raise EngineError(f"the secret and config files of task {task['ID']} are not in place")
            if any(other.name == name for other in self._containers.values()):
                raise EngineError(f'Conflict. The container name "/{name}" is already in use')
            self._containers[container.container_id] = container
        return container.container_id

    def put_task_files(self, task_id: str, files: tuple[taskfiles.TaskFile, ...]) -> list[dict]:
        """Keep a task's secret and config files (in memory only); returns their bind mounts."""
        with self._changed:
            self._files[task_id] = files
        return self._mounts(task_id, files)

    def _mounts(self, task_id: str, files: tuple[taskfiles.TaskFile, ...]) -> list[dict]:
        """The bind mounts of ``files``, from a directory named as on a real host (none is made)."""
        return taskfiles.bind_mounts(files, taskfiles.task_directory(SIM_ROOT, self.node_id, task_id))

    def drop_task_files(self, task_id: str) -> None:
        """Forget a task's files; none held is fine."""
        with self._changed:
            self._files.pop(task_id, None)

    def task_files(self) -> frozenset[str]:
        """The tasks whose files are held."""
        with self._changed:
            return frozenset(self._files)

    def file_at(self, task_id: str, target: str) -> taskfiles.TaskFile | None:
        """The file a container of ``task_id`` sees at ``target``, None if none."""
        with self._changed:
            return next((file for file in self._files.get(task_id, ()) if file.target == target), None)

    def start(self, container_id: str) -> None:
        """Start a created container: returns once it runs, ``start_delay`` seconds later."""
        with self._changed:
            container = self._get(container_id)
            if container.state != "created":
                return
            if container.fail_start:
                container.error = "simulated start failure (SHOAL_SIM_FAIL=start)"
                raise EngineError(container.error)
        self._sleep(self.start_delay)
        with self._changed:
            if container.state == "created" and container.container_id in self._containers:
                container.state, container.started_at = "running", self._clock()
                self._note(container)

    def stop(self, container_id: str, timeout: float) -> None:
        """Stop a container: it exits at once, as a process that heeds its stop signal."""
        with self._changed:
            container = self._get(container_id)
            self._settle()
            if container.state == "running":
                self._exit(container, STOP_EXIT_CODE, self._clock())

    def remove(self, container_id: str) -> None:
        """Remove a container, whatever its state; one that is already gone is fine."""
        with self._changed:
            container = self._containers.pop(container_id, None)
            if container is not None:
                self._note(container)

    # -- events ----------------------------------------------------------------
    def read_logs(self, task_id: str, stream: str, since: float, tail: int, sink) -> bool:
        """Simulated containers write no output: EngineError, which ``service logs`` shows as a warning."""
        raise EngineError("a simulated node keeps no container output")

    def watch_events(self, callback: Callable[[str], None], stop_event: threading.Event) -> None:
        """Call ``callback(task_id)`` on every start, exit and removal of this node's containers, until
        ``stop_event`` is set (noticed within EVENT_WINDOW seconds); blocks, so run it in a thread."""
        while not stop_event.is_set():
            with self._changed:
                self._settle()
                if not self._events:
                    self._changed.wait(self._until_next_exit())
                    self._settle()
                events, self._events = self._events, []
            for task_id in events:
                callback(task_id)

    # -- inside ------------------------------------------------------------------
    def _get(self, container_id: str) -> SimContainer:
        container = self._containers.get(container_id)
        if container is None:
            raise EngineError(f"No such container: {container_id}")
        return container

    def _note(self, container: SimContainer) -> None:
        """Queue an event for ``container``'s task and wake the watcher (the lock is held)."""
        self._events.append(container.task_id)
        self._changed.notify_all()

    def _exit(self, container: SimContainer, code: int, moment: float) -> None:
        container.state, container.exit_code, container.finished_at = "exited", code, moment
        self._note(container)

    def _settle(self) -> None:
        """Let the containers whose time to exit has come exit (the lock is held)."""
        now = self._clock()
        for container in self._containers.values():
            if container.state == "running" and container.exit_after is not None \
                    and now >= container.started_at + container.exit_after:
                self._exit(container, container.exit_with, container.started_at + container.exit_after)

    def _until_next_exit(self) -> float:
        """Seconds until the next planned exit, at most EVENT_WINDOW (the lock is held)."""
        due = [c.started_at + c.exit_after for c in self._containers.values()
               if c.state == "running" and c.exit_after is not None]
        return max(0.0, min([EVENT_WINDOW] + [moment - self._clock() for moment in due]))
