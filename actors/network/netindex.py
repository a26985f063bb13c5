"""Store objects grouped by network, kept current one change at a time: what a host's network state reads.

A :class:`NetworkIndex` holds the ``networks``, ``services`` and ``nodes``
tables it was built from and groups, by network id:

- the *live* tasks holding an address on it: non-terminal, placed on a node,
  with a ``NetworksAttachments`` entry for the network;
- the services attached to it (``Spec.TaskTemplate.Networks`` targets and
  ``Endpoint.VirtualIPs``), and apart from those the services publishing an
  ingress port (they are on the ``ingress`` network);
- the nodes' own addresses on it (``Attachments``);

and, by node, the networks of the live tasks on it.

:meth:`NetworkIndex.update` takes the ids of changed objects (a view's
:class:`~actors.common.changeset.Changes`), looks each one up again and
returns what the change may alter in some host's state (:class:`Touched`):
only what a host is told counts, so a task moving from ``accepted`` to
``starting`` touches nothing. An index kept current equals one rebuilt from
the same tables (tests/unit/test_network_hoststate.py checks it).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

from actors.network import objects
from transport import schema

@dataclasses.dataclass
class Touched:
    """What a change may have altered: hosts on ``networks``, the hosts of ``nodes``, or every host."""

    networks: set = dataclasses.field(default_factory=set)
    nodes: set = dataclasses.field(default_factory=set)
    everything: bool = False

    def __bool__(self) -> bool:
        return self.everything or bool(self.networks or self.nodes)


# -- what an object says about networks -----------------------------------------

def task_addresses(task: dict, field: str = "NetworksAttachments") -> dict[str, str]:
    """Network id -> the task's address there (``ADDR/PREFIX``, the first if several), from its
    ``NetworksAttachments`` (or a node's ``Attachments``)."""
    found: dict[str, str] = {}
    for network_id, address in objects.held_addresses(task, field):
        if network_id:
            found.setdefault(network_id, address)
    return found


def node_addresses(node: dict) -> dict[str, str]:
    """Network id -> the node's own address there (``ADDR/PREFIX``), from its ``Attachments``."""
    return task_addresses(node, "Attachments")


def ingress_ports(service: dict) -> list[dict]:
    """The service's ports published through the routing mesh, as allocated (``Endpoint.Ports``)."""
    return [port for port in schema.get_path(service, "Endpoint.Ports") or ()
            if (port.get("PublishMode") or objects.INGRESS_MODE) == objects.INGRESS_MODE and port.get("PublishedPort")]


def service_networks(service: dict) -> dict[str, list[str]]:
    """Network id -> aliases, for each network the service's spec attaches it to; networks it holds a
    virtual IP on are included (with no aliases) while an update moves it off them."""
    entries = objects.spec_networks(schema.get_path(service, "Spec.TaskTemplate"))
    attached = {entry["Target"]: list(entry.get("Aliases") or ()) for entry in entries if entry.get("Target")}
    for vip in objects.virtual_ips(service):
        if vip.get("NetworkID"):
            attached.setdefault(vip["NetworkID"], [])
    return attached


def is_live(task: dict) -> bool:
    """True if the task is placed on a node and not ended: it holds its addresses there."""
    return bool(task.get("NodeID")) and not schema.is_terminal(schema.get_path(task, "Status.State") or schema.NEW)


def is_ready(task: dict, node: dict | None) -> bool:
    """True if the task takes traffic: desired and observed running (the executor reports running only
    once healthy) on a node that is ready."""
    return (task.get("DesiredState") == schema.RUNNING and schema.get_path(task, "Status.State") == schema.RUNNING
            and node is not None and schema.get_path(node, "Status.State") == schema.NODE_READY)


def _task_face(task: dict | None) -> tuple | None:
    """What hosts are told about a task, short of its node's readiness; None for a task hosts never see."""
    if task is None or not is_live(task):
        return None
    addresses = task_addresses(task)
    if not addresses:
        return None
    running = task.get("DesiredState") == schema.RUNNING and schema.get_path(task, "Status.State") == schema.RUNNING
    return task["NodeID"], task.get("ServiceID"), task.get("Slot"), tuple(sorted(addresses.items())), running


def _service_face(service: dict | None) -> tuple | None:
    if service is None:
        return None
    attached = service_networks(service)
    vips = [(vip.get("NetworkID"), vip.get("Addr")) for vip in objects.virtual_ips(service)]
    ports = [(p.get("Protocol"), p.get("TargetPort"), p.get("PublishedPort")) for p in ingress_ports(service)]
    if not attached and not ports:
        return None
    return (schema.get_path(service, "Spec.Name"), objects.endpoint_mode(service.get("Spec") or {}),
            tuple(sorted((key, tuple(aliases)) for key, aliases in attached.items())), tuple(vips), tuple(ports))


def _node_face(node: dict | None) -> tuple | None:
    if node is None:
        return None
    return (schema.get_path(node, "Status.State") == schema.NODE_READY, schema.get_path(node, "Status.Addr"),
            tuple(sorted(node_addresses(node).items())))


# -- the index ---------------------------------------------------------------------

class NetworkIndex:
    """Live tasks, attached services and node addresses by network; networks of live tasks by node."""

    def __init__(self, tables: dict[str, dict[str, dict]] | None = None):
        """Index ``tables`` (``networks``, ``services``, ``nodes``, ``tasks``: id -> object; any may be absent)."""
        self.rebuild(tables or {})

    def rebuild(self, tables: dict[str, dict[str, dict]]) -> None:
        """Forget everything and index ``tables`` (kept by reference: the index reads them later)."""
        self.networks = tables.get("networks", {})
        self.services = tables.get("services", {})
        self.nodes = tables.get("nodes", {})
        self.tasks_on: dict[str, dict[str, dict]] = defaultdict(dict)  # network id -> task id -> task
        self.networks_of_node: dict[str, Counter] = defaultdict(Counter)  # node id -> network id -> live tasks
        self.services_on: dict[str, set[str]] = defaultdict(set)  # network id -> attached service ids
        self.ingress_services: set[str] = set()
        self.node_addresses_on: dict[str, dict[str, str]] = defaultdict(dict)  # network id -> node id -> address
        self._faces: dict[tuple[str, str], tuple] = {}  # (table, id) -> what was indexed of the object
        self.ingress_id = _ingress_id(self.networks)
        for task in tables.get("tasks", {}).values():
            self._put("tasks", task["ID"], task)
        for service in self.services.values():
            self._put("services", service["ID"], service)
        for node in self.nodes.values():
            self._put("nodes", node["ID"], node)

    def update(self, changes, tasks: dict[str, dict]) -> Touched:
        """Take in ``changes`` (ids of changed ``tasks``, ``services``, ``nodes``, names of changed
        ``tables``, ``everything``) as they stand now in ``tasks`` and the tables the index holds;
        returns what hosts' states they may alter."""
        if changes.everything:
            return Touched(everything=True)  # the caller rebuilds from the new tables
        touched = Touched(everything="networks" in changes.tables)
        if touched.everything:
            self.ingress_id = _ingress_id(self.networks)
        for task_id in changes.tasks:
            self._change("tasks", task_id, tasks.get(task_id), touched)
        for service_id in changes.services:
            if service_id is not None:
                self._change("services", service_id, self.services.get(service_id), touched)
        for node_id in changes.nodes:
            if node_id:
                self._change("nodes", node_id, self.nodes.get(node_id), touched)
        return touched

    def host_networks(self, node_id: str) -> set[str]:
        """Ids of the networks a host is on: those of its live tasks, and ``ingress`` while some service
        publishes a port through the routing mesh."""
        found = set(self.networks_of_node.get(node_id, ()))
        if self.ingress_services and self.ingress_id:
            found.add(self.ingress_id)
        return found

    def state(self) -> dict:
        """The groups as plain data, to compare two indexes."""
        return {"tasks_on": {key: set(group) for key, group in self.tasks_on.items()},
                "networks_of_node": {key: dict(counts) for key, counts in self.networks_of_node.items()},
                "services_on": dict(self.services_on), "ingress_services": set(self.ingress_services),
                "node_addresses_on": dict(self.node_addresses_on), "ingress_id": self.ingress_id}

    # -- changes -------------------------------------------------------------------
    def _change(self, table: str, object_id: str, new: dict | None, touched: Touched) -> None:
        """Index ``new`` in place of what was indexed for ``object_id``, noting in ``touched`` what
        hosts are told differently."""
        old_face = self._faces.get((table, object_id))
        face = _FACES[table](new)
        if face == old_face:
            if table == "tasks" and face is not None:  # the same to hosts; its new object is read from now on
                for network_id, _ in face[3]:
                    self.tasks_on[network_id][object_id] = new
            return
        before = self._networks_touched(table, object_id)
        self._drop(table, object_id)
        self._put(table, object_id, new)
        touched.networks |= before | self._networks_touched(table, object_id)
        if table == "tasks":
            touched.nodes |= {face[0] for face in (old_face, face) if face is not None}
        elif table == "nodes":
            touched.nodes.add(object_id)

    def _networks_touched(self, table: str, object_id: str) -> set[str]:
        """The networks whose hosts are told about the object as indexed now."""
        face = self._faces.get((table, object_id))
        if face is None:
            return set()
        if table == "tasks":
            return {network_id for network_id, _ in face[3]}
        if table == "services":
            return {key for key, _ in face[2]} | ({self.ingress_id} if face[4] and self.ingress_id else set())
        return {network_id for network_id, _ in face[2]} | set(self.networks_of_node.get(object_id, ()))

    def _put(self, table: str, object_id: str, obj: dict | None) -> None:
        face = _FACES[table](obj)
        if face is None:
            return
        self._faces[(table, object_id)] = face
        if table == "tasks":
            for network_id, _ in face[3]:
                self.tasks_on[network_id][object_id] = obj
                self.networks_of_node[face[0]][network_id] += 1
        elif table == "services":
            for network_id, _ in face[2]:
                self.services_on[network_id].add(object_id)
            if face[4]:
                self.ingress_services.add(object_id)
        else:
            for network_id, address in face[2]:
                self.node_addresses_on[network_id][object_id] = address

    def _drop(self, table: str, object_id: str) -> None:
        face = self._faces.pop((table, object_id), None)
        if face is None:
            return
        if table == "tasks":
            for network_id, _ in face[3]:
                _discard(self.tasks_on, network_id, object_id)
                counts = self.networks_of_node[face[0]]
                counts[network_id] -= 1
                if counts[network_id] <= 0:
                    del counts[network_id]
                if not counts:
                    del self.networks_of_node[face[0]]
        elif table == "services":
            for network_id, _ in face[2]:
                _discard(self.services_on, network_id, object_id)
            self.ingress_services.discard(object_id)
        else:
            for network_id, _ in face[2]:
                _discard(self.node_addresses_on, network_id, object_id)


_FACES = {"tasks": _task_face, "services": _service_face, "nodes": _node_face}


def _ingress_id(networks: dict[str, dict]) -> str | None:
    """The id of the ``ingress`` network, None while there is none."""
    ingress = objects.find_ingress(networks)
    return ingress["ID"] if ingress is not None else None


def _discard(groups: dict, key, member) -> None:
    """Take ``member`` out of ``groups[key]`` (a set or dict), dropping the group when it empties."""
    group = groups.get(key)
    if group is None:
        return
    if isinstance(group, set):
        group.discard(member)
    else:
        group.pop(member, None)
    if not group:
        del groups[key]
