"""Each service's running, desired and (for jobs) completed tasks: the rows of ``service ls``, and
the orchestrator's gauges."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from actors.common import jobs
from actors.common.viewindex import is_running, wants_running
from transport import schema


def service_rows(services: Iterable[dict], tasks: Iterable[dict]) -> list[dict]:
    """``{"service", "running", "desired"}`` for every service, by name; a job's row adds ``completed``
    and ``total`` (the completions its current iteration needs), as ``docker service ls`` shows them:
    ``2/2 (3/10 completed)``. Desired is the replica count, a global service's nodes with a task meant
    to run, or a job's tasks still to run to completion."""
    by_service: dict[str, list[dict]] = defaultdict(list)
    for task in tasks:
        by_service[task.get("ServiceID")].append(task)
    rows = []
    for service in sorted(services, key=lambda service: schema.get_path(service, "Spec.Name", "")):
        own = by_service.get(service["ID"], [])
        row = {"service": service, "running": sum(1 for task in own if is_running(task))}
        mode = schema.service_mode(service)
        if jobs.is_job(service):
            progress = jobs.progress(service, own)
            row.update(desired=progress.desired, completed=progress.completed, total=progress.total)
        elif mode == "global":
            row["desired"] = len({task.get("NodeID") for task in own if wants_running(task)})
        else:
            row["desired"] = schema.desired_replicas(service)
        rows.append(row)
    return rows

