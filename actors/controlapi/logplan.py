"""Whom ``service logs`` asks, and when following it ends (no IO).

:func:`plan` takes the view's services, tasks and nodes and what the user
named (a service, or one task) and returns the tasks whose output to show
(with what the CLI's prefix needs), the tasks to ask each dispatcher about,
grouped by the node they ran on (leaving out those whose whole output the
follower already has), a one-line warning for each node that
cannot answer (down, or with no dispatcher session), and whether following
is over (the service or the task is gone, or the task has ended: its
output is complete).
"""

from __future__ import annotations

import dataclasses

from actors.common.hostconfig import dispatcher_socket, node_address
from actors.controlapi.resolve import resolve
from transport import limits, schema
from transport.rpc import RpcError


@dataclasses.dataclass(frozen=True)
class Ask:
    """The tasks of one node, asked of the dispatcher holding its session (endpoint and server key)."""

    node_id: str
    hostname: str
    endpoint: str
    server_key: str
    task_ids: tuple[str, ...]


@dataclasses.dataclass
class Plan:
    """What one ``service_logs`` request does: the id of the service or task shown (``target``), ``tasks``
    (``{"id", "name", "node", "service_id", "node_id", "pad"}`` each: Docker's ``NAME.SLOT``, the hostname,
    the ids for ``--no-resolve``, and the spaces after the node), ``asks``, the ``warnings`` to show, the tasks that had ended before
    they were asked about (``terminal``: one read gets all their output), and ``ended`` with the reason when
    nothing more will come."""

    target: str
    tasks: list[dict]
    asks: list[Ask]
    warnings: dict[str, str]  # node id -> why it cannot answer
    terminal: frozenset[str] = frozenset()
    ended: str = ""
    tty: bool = False  # the containers have a terminal: their output is one stream, not to be prefixed


def target(services: dict, tasks: dict, ref: str, known: bool) -> tuple[dict | None, dict | None]:
    """``(service, None)`` or ``(None, task)`` that ``ref`` names: a service first (id, name, id prefix),
    then a task (id, id prefix). With ``known`` (a follower asking again by the id it was given), a ref
    that is gone gives ``(None, None)``; otherwise RpcError ``not_found``."""
    for table, objects in (("services", services), ("tasks", tasks)):
        try:
            found = resolve(objects, table, ref)
        except RpcError as exc:
            if exc.code != "not_found":
                raise
            continue
        return (found, None) if table == "services" else (None, found)
    if known:
        return None, None
    raise RpcError("not_found", f"no such task or service: {str(ref)[:128]}")


def plan(services: dict, tasks: dict, nodes: dict, ref: str, known: bool = False,
         finished: frozenset[str] = frozenset()) -> Plan:
    """The plan for showing the output of ``ref`` (see the module's docstring), leaving out the tasks
    ``finished`` (a follower has all their output: they had ended before a read of them)."""
    service, task = target(services, tasks, ref, known)
    if service is None and task is None:
        return Plan(str(ref)[:128], [], [], {}, ended=f"{str(ref)[:128]} was removed")
    if service is not None:
        chosen = [t for t in tasks.values() if t.get("ServiceID") == service["ID"] and t.get("NodeID")
                  and t["ID"] not in finished]
        name = service["Spec"]["Name"]
    else:
        chosen = [task] if task.get("NodeID") and task["ID"] not in finished else []
        name = schema.get_path(task, "ServiceAnnotations.Name") or schema.get_path(
            services.get(task.get("ServiceID"), {}), "Spec.Name", "")
    chosen.sort(key=lambda t: (t.get("Slot") or 0, t.get("NodeID"), schema.get_path(t, "Status.Timestamp") or 0))
    by_node: dict[str, list[str]] = {}
    for t in chosen:
        by_node.setdefault(t["NodeID"], []).append(t["ID"])
    asks, warnings = [], {}
    for node_id, task_ids in sorted(by_node.items()):
        ask, warning = _ask(nodes, node_id, task_ids)
        if ask is None:
            warnings[node_id] = warning
            continue
        for start in range(0, len(task_ids), limits.LOG_TASKS_PER_REQUEST):  # what one dispatcher request may name
            asks.append(dataclasses.replace(ask, task_ids=ask.task_ids[start:start + limits.LOG_TASKS_PER_REQUEST]))
    spec = service["Spec"] if service is not None else {"TaskTemplate": task.get("Spec") or {}}
    width = len(str(task.get("Slot") or 0)) if task is not None else len(str(
        schema.get_path(spec, "Mode.Replicated.Replicas") or 0))
    # Docker's names: the slot (0 for a global task), padded to the digits of the replicas (of a task: its slot).
    described = [{"id": t["ID"], "name": f"{name}.{t.get('Slot') or 0}", "node": _hostname(nodes, t["NodeID"]),
                  "service_id": t.get("ServiceID", ""), "node_id": t["NodeID"],
                  "pad": max(width - len(str(t.get("Slot") or 0)), 0)} for t in chosen]
    terminal = frozenset(t["ID"] for t in chosen if schema.is_terminal(schema.get_path(t, "Status.State", "")))
    ended = ""
    if task is not None and schema.is_terminal(schema.get_path(task, "Status.State", "")):
        ended = f"task {task['ID']} has ended"
    return Plan((service or task)["ID"], described, asks, warnings, terminal, ended,
                tty=bool(schema.get_path(spec, "TaskTemplate.ContainerSpec.TTY")))


def _hostname(nodes: dict, node_id: str) -> str:
    return schema.get_path(nodes.get(node_id, {}), "Description.Hostname") or node_id


def _ask(nodes: dict, node_id: str, task_ids: list[str]) -> tuple[Ask | None, str]:
    """The ask of ``node_id``'s dispatcher, or None and the warning saying why the node cannot answer."""
    node = nodes.get(node_id)
    what = f"{len(task_ids)} task{'s' if len(task_ids) != 1 else ''}"
    if node is None:
        return None, f"node {node_id} has left the swarm: the output of its {what} is not shown"
    hostname = _hostname(nodes, node_id)
    if schema.get_path(node, "Status.State") != schema.NODE_READY:
        return None, f"node {hostname} is {schema.get_path(node, 'Status.State', 'unknown')}: " \
                     f"the output of its {what} is not shown"
    dispatcher = schema.get_path(node, "Shoal.Dispatcher") or ""
    manager_id, _, instance = dispatcher.partition("/")
    address = node_address(nodes.get(manager_id, {})) if manager_id else None
    if address is None:
        return None, f"node {hostname} has no session with a manager: the output of its {what} is not shown"
    endpoint = address.endpoint(dispatcher_socket(int(instance) if instance.isdigit() else 0))
    return Ask(node_id, hostname, endpoint, address.public_key, tuple(task_ids)), ""
