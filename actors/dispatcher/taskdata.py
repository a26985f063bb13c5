"""What a node may learn of secrets and configs: the dispatcher's ``task_data`` answer, decided without IO.

Secrets and configs travel on a need-to-know basis, as in Swarm: a node gets
the data of the secrets and configs a task's spec references
(``Spec.ContainerSpec.Secrets`` / ``.Configs``) only while that task is
assigned to it and has not ended. :func:`task_data` decides from the
dispatcher's view of the store; secret values stay sealed in the store and
are unsealed here, through the ``unseal`` the dispatcher passes in, only for
a request it serves. Refusals are :class:`RpcError` with one line that names
ids and names, never data.
"""

from __future__ import annotations

from typing import Callable

from actors.common.datarefs import CONFIG, KINDS, SECRET
from transport import limits, schema
from transport.rpc import RpcError

# (secret id, its Sealed block) -> its value; raises RpcError when it cannot.
Unseal = Callable[[str, dict], bytes]


def references(task: dict) -> dict[str, list[tuple[str, str]]]:
    """``{"secrets": [(id, name), ...], "configs": [...]}``: what the task's spec references, each id once,
    in the spec's order (a secret mounted at two targets is sent once)."""
    spec = schema.get_path(task, "Spec.ContainerSpec") or {}
    found = {}
    for kind in KINDS:
        seen: dict[str, str] = {}
        for reference in spec.get(kind.field) or []:
            seen.setdefault(reference.get(kind.id_key, ""), reference.get(kind.name_key, ""))
        found[kind.table] = list(seen.items())
    return found


def check_served(task: dict | None, task_id: str, node_id: str) -> dict:
    """``task`` when node ``node_id`` may have its data: it exists (RpcError ``not_found``), is assigned to
    that node and has not ended (``permission_denied``)."""
    if task is None:
        raise RpcError("not_found", f"task {task_id} not found")
    if task.get("NodeID") != node_id:
        raise RpcError("permission_denied", f"task {task_id} is not assigned to this node")
    state = schema.get_path(task, "Status.State", schema.NEW)
    if schema.is_terminal(state):
        raise RpcError("permission_denied", f"task {task_id} has ended ({state}): its secrets and configs "
                                            "are no longer served")
    return task


def task_data(task: dict | None, task_id: str, node_id: str, secrets: dict[str, dict], configs: dict[str, dict],
              unseal: Unseal) -> dict:
    """The ``task_data`` reply for task ``task_id`` (``task``: the view's object, None if absent) asked for by
    node ``node_id``: ``{"secrets": [{"ID", "Name", "Data"}], "configs": [...]}``, the current value of
    each secret and config its spec references.

    Refused (RpcError) as :func:`check_served` says; ``missing_data`` when a referenced secret or config no
    longer exists (the task cannot start: it is rejected); ``too_large`` when the values together exceed
    TASK_DATA_BYTES, more than one reply may carry.
    """
    task = check_served(task, task_id, node_id)
    tables = {SECRET.table: secrets, CONFIG.table: configs}
    refs = references(task)
    reply: dict[str, list[dict]] = {}
    total = 0
    for kind in KINDS:
        reply[kind.table] = []
        for object_id, name in refs[kind.table]:
            found = tables[kind.table].get(object_id)
            if found is None:
                raise RpcError("missing_data", f"{kind.noun} {name or object_id} ({object_id}) of task {task_id} "
                                               "no longer exists")
            data = unseal(object_id, found["Sealed"]) if kind is SECRET else found["Spec"]["Data"]
            total += len(data)
            if total > limits.TASK_DATA_BYTES:
                raise RpcError("too_large", f"the secrets and configs of task {task_id} add up to more than "
                                            f"{limits.TASK_DATA_BYTES} bytes, the most a node is sent")
            reply[kind.table].append({"ID": object_id, "Name": schema.get_path(found, "Spec.Name", name),
                                      "Data": data})
    return reply
