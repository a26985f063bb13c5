"""How long a service takes from a spec change to running what its spec asks.

Pure. :class:`Convergence` is told each change of a service (its old and new
object): a write that moves ``SpecVersion`` starts a wait, timed from the
write's store time (``UpdatedAt``) and named by its kind (``create``,
``scale``, ``update``, ``rollback``). :meth:`Convergence.check`, given the
service's tasks, ends the wait once the service has converged: as many tasks
observed running as it wants, each meant to run and made from its current
spec, and no other task still running. A newer spec change replaces a wait
under way (the time counts from the newer change). Jobs are not timed (they
run to completion, not to a count), nor are the changes under way when a
snapshot replaced the view (their start is unknown).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from actors.common import jobs
from actors.common.servicestatus import service_rows
from actors.common.taskspec import is_dirty
from actors.common.viewindex import observed_state, wants_running
from transport import schema

KINDS = ("create", "update", "scale", "rollback")


@dataclass(frozen=True)
class Awaited:
    """A spec change waiting for its service to converge: its kind and its store time."""

    kind: str
    since: float


def change_kind(old: dict | None, new: dict) -> str:
    """The kind of the spec write from service ``old`` (None: created) to ``new``: ``create``, ``rollback``
    (the write rolled the spec back), ``scale`` (only the replica count changed) or ``update``."""
    if old is None:
        return "create"
    if schema.get_path(new, "UpdateStatus.State") == "rollback_started":
        return "rollback"
    return "scale" if _without_replicas(old["Spec"]) == _without_replicas(new["Spec"]) else "update"


def _without_replicas(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    replicated = schema.get_path(spec, "Mode.Replicated")
    if isinstance(replicated, dict):
        replicated.pop("Replicas", None)
    return spec


def converged(service: dict, tasks: list[dict]) -> bool:
    """True if ``service`` runs what its spec asks: its desired count of tasks observed running, each meant
    to run and from the current spec, and no other task running (a global service wants at least one)."""
    running = [task for task in tasks if observed_state(task) == schema.RUNNING]
    if not all(wants_running(task) and not is_dirty(task, service) for task in running):
        return False
    [row] = service_rows([service], tasks)
    return len(running) == row["desired"] and (row["desired"] > 0 or schema.service_mode(service) != "global")


class Convergence:
    """The spec changes whose services have not converged yet, by service id."""

    def __init__(self):
        self.awaited: dict[str, Awaited] = {}

    def service_changed(self, old: dict | None, new: dict | None) -> None:
        """Note a write of a service (``new`` None: removed); one that moves its SpecVersion starts a wait."""
        if new is None:
            if old is not None:
                self.awaited.pop(old["ID"], None)
            return
        version = schema.get_path(new, "SpecVersion.Index")
        if old is not None and schema.get_path(old, "SpecVersion.Index") == version:
            return
        if jobs.is_job(new):
            self.awaited.pop(new["ID"], None)
            return
        self.awaited[new["ID"]] = Awaited(change_kind(old, new), schema.parse_time(new.get("UpdatedAt") or ""))

    def reloaded(self) -> None:
        """The view was replaced by a snapshot: forget the waits (what happened meanwhile is unknown)."""
        self.awaited.clear()

    def check(self, service: dict, tasks: list[dict]) -> Awaited | None:
        """The wait of ``service``, ended, if it has one and the service has converged (else None)."""
        awaited = self.awaited.get(service["ID"])
        if awaited is None or not converged(service, tasks):
            return None
        del self.awaited[service["ID"]]
        return awaited
