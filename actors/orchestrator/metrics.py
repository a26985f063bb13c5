"""The orchestrator's reconciliation metrics: tasks and nodes by state, task transitions and failures, and the
time services take to converge after a spec change (docs/operations.md, "Reconciliation metrics").

Only the instance holding the orchestrator's lease exports them: :meth:`ReconcileMetrics.lease` removes
every gauge when the lease is lost (a standby shows none, so no stale copy stays beside the new holder's), with each service's failure
counters, and the counters count only while it is held. The counts are kept from the view's changes
(actors/orchestrator/tally.py, convergence.py) whether or not the lease is held, so a new holder has them
at once; after each pass the gauges of the services that changed are set, never every service's.
Each service's series start at 0 when it is first exported.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from actors.common.changeset import ChangeSet
from actors.common.series import remove_series, start_at_zero
from actors.common.servicestatus import service_rows
from actors.common.view import StoreView
from actors.orchestrator.convergence import KINDS, Convergence
from actors.orchestrator.tally import FAILURE_REASONS, NODE_CELLS, NodeTally, TaskTally
from transport import schema

DESIRED = Gauge("shoal_service_desired_tasks", "Tasks a service should be running", ["service"])
RUNNING = Gauge("shoal_service_running_tasks", "Tasks of a service observed running", ["service"])
TASKS = Gauge("shoal_service_tasks", "Tasks in the store by service and observed state", ["service", "state"])
TRANSITIONS = Counter("shoal_task_transitions_total", "Task observed-state changes, by the state entered", ["state"])
FAILURES = Counter("shoal_task_failures_total", "Tasks that ended failed, rejected or orphaned, by reason",
                   ["service", "reason"])
CONVERGE_SECONDS = Histogram("shoal_service_converge_seconds", "From a spec change (its store time) until the service "
                             "runs its desired count of up-to-date tasks", ["kind"],
                             buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
NODES = Gauge("shoal_nodes", "Nodes by role, state and availability", ["role", "state", "availability"])

# Services whose series a pass makes at most (about 1 ms each): after a snapshot or a lease taken, a cluster of
# many services is exported over a few passes rather than delaying the controller's next decision by seconds.
NEW_SERVICES_PER_PASS = 100
ENTERED = {state: TRANSITIONS.labels(state) for state in schema.TASK_STATES}  # each series, made at once
for _kind in KINDS:
    CONVERGE_SECONDS.labels(_kind)


class ReconcileMetrics:
    """Keeps the counts from a view's changes (:meth:`attach`) and exports them after each pass while the
    lease is held (:meth:`after_pass`, :meth:`lease`: the Controller's ``on_pass`` and ``on_lease``)."""

    def __init__(self):
        self.tasks = TaskTally()
        self.nodes = NodeTally()
        self.convergence = Convergence()
        self.held = False
        self._view: StoreView | None = None
        self._changes: ChangeSet | None = None
        self._backlog: set[str] = set()  # services left for the next pass (NEW_SERVICES_PER_PASS)
        self._series: dict[str, ServiceSeries] = {}  # service id -> its series, under the name exported

    def attach(self, view: StoreView) -> None:
        """Follow ``view``'s changes from now on (before it loads its first snapshot)."""
        self._view = view
        self._changes = view.watch(frozenset({"services", "tasks"}))
        view.observe(self)

    # -- the view's changes (StoreView.observe) ---------------------------------------------------
    def record(self, table: str, object_id: str, old: dict | None, new: dict | None) -> None:
        """Count one change of the view."""
        if table == "tasks":
            transition = self.tasks.changed(old, new)
            if transition is not None and self.held:
                ENTERED[transition.state].inc()
                name = self._service_name(transition.service_id)
                if transition.failure is not None and name is not None:
                    FAILURES.labels(name, transition.failure).inc()
        elif table == "services":
            self.convergence.service_changed(old, new)
        elif table == "nodes":
            self.nodes.changed(old, new)

    def record_everything(self) -> None:
        """Count the view's tables again after a snapshot replaced them."""
        self.tasks.reloaded(self._view.table("tasks").values())
        self.nodes.reloaded(self._view.table("nodes").values())
        self.convergence.reloaded()

    # -- the controller's hooks -------------------------------------------------------------------
    def lease(self, held: bool) -> None:
        """The lease was taken (export everything on the next pass) or lost (remove every gauge)."""
        self.held = held
        if held:
            self._changes.record_everything()
            return
        for service_id in list(self._series):
            self._drop(service_id, keep=None)
        for cell in NODE_CELLS:
            remove_series(NODES, *cell)
        self.nodes.moved = True

    def after_pass(self, view: StoreView) -> None:
        """Export what changed since the last pass: the services that changed (all after a snapshot or a
        lease taken), the nodes' counts if they moved, and the convergence of the changed services."""
        services = view.table("services")
        changes = self._changes.take()
        changed = (set(services) | set(self._series) if changes.everything else changes.services) | self._backlog
        current = {service_id: services[service_id] for service_id in changed if service_id in services}
        for service_id in changed:  # all drops first: a removed service's name may be a new one's
            self._drop(service_id, keep=schema.get_path(current.get(service_id, {}), "Spec.Name"))
        now = view.now()
        made, self._backlog = 0, set()
        for service_id, service in current.items():
            if service_id not in self._series:
                if made == NEW_SERVICES_PER_PASS:
                    self._backlog.add(service_id)
                    continue
                made += 1
            self._export(service, view.task_index.of_service(service_id), now)
        if self.nodes.take_moved():
            for cell in NODE_CELLS:
                NODES.labels(*cell).set(self.nodes.counts[cell])

    def _export(self, service: dict, tasks: list[dict], now: float) -> None:
        series = self._series.get(service["ID"])
        if series is None:  # first exported, or under another name (dropped already)
            series = self._series[service["ID"]] = ServiceSeries(service["Spec"]["Name"])
        [row] = service_rows([service], tasks)
        series.desired.set(row["desired"])
        series.running.set(row["running"])
        counts = self.tasks.of_service(service["ID"])
        for state, gauge in series.states.items():
            gauge.set(counts[state])
        ended = self.convergence.check(service, tasks)
        if ended is not None:
            CONVERGE_SECONDS.labels(ended.kind).observe(max(0.0, now - ended.since))

    def _service_name(self, service_id: str) -> str | None:
        service = self._view.table("services").get(service_id) if self._view is not None else None
        return schema.get_path(service, "Spec.Name") if service is not None else None

    def _drop(self, service_id: str, keep: str | None) -> None:
        """Remove the series exported for ``service_id`` unless they are under the name ``keep``."""
        series = self._series.get(service_id)
        if series is None or series.name == keep:
            return
        series.remove()
        del self._series[service_id]


class ServiceSeries:
    """One service's series under its name, made (at 0) once, so a pass sets them without looking them up."""

    __slots__ = ("name", "desired", "running", "states")

    def __init__(self, name: str):
        self.name = name
        self.desired = DESIRED.labels(name)
        self.running = RUNNING.labels(name)
        self.states = {state: TASKS.labels(name, state) for state in schema.TASK_STATES}
        start_at_zero(FAILURES, [name], FAILURE_REASONS)

    def remove(self) -> None:
        """Remove every series of the service."""
        remove_series(DESIRED, self.name)
        remove_series(RUNNING, self.name)
        for state in schema.TASK_STATES:
            remove_series(TASKS, self.name, state)
        for reason in FAILURE_REASONS:
            remove_series(FAILURES, self.name, reason)
