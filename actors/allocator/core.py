"""The allocator's decision: networks, service endpoints, then new tasks to ``pending``, then node attachments.

One pass, in order:

1. **networks** (networks.py): a VXLAN id and a subnet for each network that has none;
2. **service endpoints**: a service's ``Endpoint`` is *allocated* when its
   ``Spec`` equals the service's ``Spec.EndpointSpec`` and it has a virtual IP
   on exactly the networks it needs: in ``vip`` mode each network of
   ``TaskTemplate.Networks``, and ``ingress`` when it publishes a port through
   the routing mesh. Otherwise its ports (ports.py) and missing VIPs are
   allocated, keeping the VIPs it has on networks it still needs;
3. **tasks**: a task in ``new`` whose service's endpoint is allocated moves to
   ``pending`` with a copy of the ports and one ``NetworksAttachments`` entry,
   with a new address, per network of its spec (and ``ingress`` when its
   service publishes through the mesh). A task that cannot have them (a
   network missing, not allocated, or out of addresses) stays ``new`` and says
   why in ``Status.Err``;
4. **nodes**: a node's ``Attachments`` hold one address on ``ingress`` and on
   each network one of its tasks holds an address on; others are dropped.

Addresses come from the :class:`~actors.allocator.addresses.AddressBook`.
:class:`Allocator` keeps it current from the changes its view records, and
judges again only the nodes those changes touched; :func:`allocate` decides
from scratch (for views that keep no change set, and tests).
"""

from __future__ import annotations

import copy

from actors.allocator import ports as portbook
from actors.allocator.addresses import NODES, SERVICES, TASKS, AddressBook, NetworkFull
from actors.allocator.networks import network_ops
from actors.common.viewindex import PENDING_MESSAGE, Decision, ViewIndex, age_key, patch_op, read_table, status_note_op
from actors.network import ipam, objects
from transport import schema

WATCHED = frozenset({"cluster", "nodes", "services", "tasks", "networks"})
NETWORK_WAITING_MESSAGE = "waiting for network allocation"


def network_name(networks: dict[str, dict], network_id: str) -> str:
    """The name of network ``network_id`` in ``networks`` (its id when it has none or is not there)."""
    return schema.get_path(networks.get(network_id) or {}, "Spec.Name") or network_id


class Allocator:
    """The allocator's decide function (``Controller``'s ``decide``): keeps its address book current from
    a :class:`~actors.common.view.StoreView`'s changes (rebuilt from scratch on the first call, after a
    snapshot, and when a network is removed or its range changes), and decides for every network and service and
    for the nodes whose networks or attachments changed, or that its last pass proposed for."""

    def __init__(self):
        self._book = AddressBook()
        self._changes = None
        self._unsettled: set[str] = set()  # nodes the last pass proposed for: judged again

    def __call__(self, view, now: float) -> Decision:
        index = ViewIndex(view)
        networks = read_table(view, "networks")
        if not callable(getattr(view, "watch", None)):
            self._rebuild(index, networks)
        elif self._changes is None:
            self._changes = view.watch(WATCHED)
            self._rebuild(index, networks)
        else:
            self._note(self._changes.take(), index, networks)
        decision, unsettled = decide(index, networks, self._book, now, self._book.take_dirty_nodes() | self._unsettled)
        self._book.forget_tentative()
        self._unsettled = unsettled
        return decision

    def pools(self) -> dict[str, ipam.AddressPool]:
        """The address pool of each allocated network, by id, as the last pass left them (read only)."""
        return self._book.pools

    def _rebuild(self, index: ViewIndex, networks: dict[str, dict]) -> None:
        self._book.rebuild(networks, {TASKS: index.tasks, SERVICES: index.services, NODES: index.nodes})

    def _note(self, changes, index: ViewIndex, networks: dict[str, dict]) -> None:
        if changes.everything or "networks" in changes.tables and not self._book.follow_networks(networks):
            self._rebuild(index, networks)
            return
        for task_id in changes.tasks:
            self._book.sync(TASKS, task_id, index.tasks.get(task_id), index.nodes)
        for service_id in changes.services if "services" in changes.tables else ():
            self._book.sync(SERVICES, service_id, index.services.get(service_id), index.nodes)
        for node_id in changes.nodes if "nodes" in changes.tables else ():
            if not node_id:
                continue
            came_or_went = self._book.knows_node(node_id) != (node_id in index.nodes)
            self._book.sync(NODES, node_id, index.nodes.get(node_id), index.nodes)
            for task_id, task in index.node_tasks(node_id).items() if came_or_went else ():
                self._book.sync(TASKS, task_id, task, index.nodes)  # what it holds depends on its node being there


def allocate(view, now: float) -> Decision:
    """The allocator's decision for ``view``, from scratch (every node judged)."""
    return Allocator()(view, now)


def decide(index: ViewIndex, networks: dict[str, dict], book: AddressBook, now: float,
           node_ids: set[str]) -> tuple[Decision, set[str]]:
    """The pass's ops, judging the attachments of the nodes ``node_ids``, and the nodes it proposed for (to
    judge again next pass)."""
    ops, problems = network_ops(networks, index.cluster)
    ports_held = portbook.PortBook()
    for service in index.services.values():
        ports_held.add_service(service, portbook.allocated_ports(service))
    ingress = objects.find_ingress(networks)
    services = ServicePass(index, networks, book, ingress, problems, now)
    for service in sorted(index.services.values(), key=age_key):
        ops.extend(services.ops(service, ports_held))
    node_ops = attachment_ops(index, networks, book, ingress, node_ids)
    ops.extend(node_ops)
    return Decision(ops), {op["id"] for op in node_ops}


class ServicePass:
    """The endpoints and new tasks of the services, for one pass."""

    def __init__(self, index: ViewIndex, networks: dict[str, dict], book: AddressBook, ingress: dict | None,
                 problems: dict[str, str], now: float):
        self.index, self.networks, self.book, self.ingress = index, networks, book, ingress
        self.problems, self.now = problems, now

    def ops(self, service: dict, ports_held: portbook.PortBook) -> list[dict]:
        """Ops for ``service``: its endpoint (if stale), then its new tasks. Updates ``ports_held`` on success."""
        spec = service.get("Spec") or {}
        mesh = self._mesh_networks(spec)
        try:
            self._check_allocated([entry["Target"] for entry in objects.spec_networks(spec.get("TaskTemplate"))]
                                  + mesh)
        except ValueError as waiting:
            return self._waiting(service, NETWORK_WAITING_MESSAGE, str(waiting))
        ops = []
        ports = portbook.allocated_ports(service)
        if not is_allocated(service, self.vip_networks(service)):
            if not portbook.is_allocated(service):
                trial = ports_held.copy()
                trial.release(service["ID"])
                try:
                    ports = portbook.assign_ports(service, trial, previous=ports)
                except portbook.PortConflict as conflict:
                    return self._waiting(service, portbook.WAITING_MESSAGE, str(conflict))
                ports_held.holders = trial.holders
            try:
                vips = self._virtual_ips(service)
            except (ValueError, ipam.Exhausted) as problem:
                return self._waiting(service, NETWORK_WAITING_MESSAGE, str(problem))
            endpoint = {"Spec": copy.deepcopy(portbook.endpoint_spec(service)), "Ports": ports}
            if vips:
                endpoint["VirtualIPs"] = vips
            ops.append(patch_op("services", service, {"Endpoint": endpoint}))
        for task in new_tasks(self.index, service):
            ops.append(self._task_op(task, ports, mesh))
        return [op for op in ops if op is not None]

    def _mesh_networks(self, spec: dict) -> list[str]:
        """``[ingress id]`` when ``spec`` publishes through the routing mesh, else ``[]``; ValueError-free:
        a missing ingress network shows as the id ``ingress``, which is then not found."""
        if not objects.publishes_ingress(spec):
            return []
        return [self.ingress["ID"] if self.ingress is not None else objects.INGRESS_NAME]

    def vip_networks(self, service: dict) -> list[str]:
        """The networks ``service`` needs a virtual IP on: in vip mode its spec's networks and ingress
        when it publishes through the mesh; none in dnsrr mode."""
        spec = service.get("Spec") or {}
        if objects.endpoint_mode(spec) != objects.VIP:
            return []
        return unique(objects.service_network_ids(service) + self._mesh_networks(spec))

    def _check_allocated(self, network_ids: list[str]) -> None:
        """ValueError saying which of ``network_ids`` is missing or not allocated yet."""
        for network_id in network_ids:
            network = self.networks.get(network_id)
            if network is None:
                raise ValueError(f"network {network_id} not found")
            if not objects.is_allocated(network):
                raise ValueError(self.problems.get(network_id) or
                                 f"network {schema.get_path(network, 'Spec.Name', network_id)} is not allocated yet")

    def _virtual_ips(self, service: dict) -> list[dict]:
        """``[{NetworkID, Addr}]`` for the service's VIP networks: kept where it has one, else allocated."""
        kept = {vip.get("NetworkID"): vip for vip in objects.virtual_ips(service)}
        wanted = self.vip_networks(service)
        missing = [network_id for network_id in wanted if network_id not in kept]
        try:
            fresh = dict(zip(missing, self.book.allocate(missing)))
        except NetworkFull as full:
            raise ipam.Exhausted(f"could not allocate a virtual IP on network "
                                 f"{network_name(self.networks, full.network_id)}: {full}") from None
        return [copy.deepcopy(kept[network_id]) if network_id in kept else {"NetworkID": network_id,
                                                                            "Addr": fresh[network_id]}
                for network_id in wanted]

    def _task_op(self, task: dict, ports: list[dict], mesh: list[str]) -> dict | None:
        """The task's move to ``pending`` with its ports and attachments, or a note saying why it waits."""
        entries = unique_entries(objects.spec_networks(task.get("Spec")) + [{"Target": network_id} for network_id in mesh])
        try:
            self._check_allocated([entry["Target"] for entry in entries])
            addresses = self.book.allocate([entry["Target"] for entry in entries])
        except ValueError as waiting:
            return status_note_op(task, NETWORK_WAITING_MESSAGE, str(waiting))
        except NetworkFull as full:
            return status_note_op(task, NETWORK_WAITING_MESSAGE, f"could not allocate an address on network "
                                  f"{network_name(self.networks, full.network_id)}: {full}")
        attachments = [{"Network": objects.summary(self.networks[entry["Target"]]), "Addresses": [address],
                        "Aliases": list(entry.get("Aliases") or [])}
                       for entry, address in zip(entries, addresses)]
        changes = {"Status": schema.task_status(schema.PENDING, PENDING_MESSAGE, self.now),
                   "Endpoint": {"Ports": copy.deepcopy(ports)}}
        if attachments:
            changes["NetworksAttachments"] = attachments
        return patch_op("tasks", task, changes)

    def _waiting(self, service: dict, message: str, reason: str) -> list[dict]:
        """Notes on ``service``'s new tasks saying why they cannot proceed (only where not said yet)."""
        notes = (status_note_op(task, message, reason) for task in new_tasks(self.index, service))
        return [note for note in notes if note is not None]


def is_allocated(service: dict, vip_networks: list[str]) -> bool:
    """True if the service's ``Endpoint`` was allocated for its current ``EndpointSpec`` and holds a
    virtual IP on exactly ``vip_networks``."""
    held = [vip.get("NetworkID") for vip in objects.virtual_ips(service)]
    return portbook.is_allocated(service) and sorted(held) == sorted(vip_networks)


def new_tasks(index: ViewIndex, service: dict) -> list[dict]:
    """Tasks of ``service`` in state ``new`` that are meant to run."""
    return index.service_tasks_in_state(service["ID"], schema.RUNNING, schema.NEW)


def unique(items: list[str]) -> list[str]:
    """``items`` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))


def unique_entries(entries: list[dict]) -> list[dict]:
    """Network entries (``{Target, Aliases}``) with one per target, the first kept."""
    seen = {}
    for entry in entries:
        seen.setdefault(entry["Target"], entry)
    return list(seen.values())


def attachment_ops(index: ViewIndex, networks: dict[str, dict], book: AddressBook, ingress: dict | None,
                   node_ids: set[str]) -> list[dict]:
    """Patches of the ``Attachments`` of the nodes ``node_ids`` that lack an address on a network they take
    part in (ingress, and each network one of their tasks holds an address on), or hold one on a network
    they no longer do. A node whose pool is full is left as it is (tried again when it next changes)."""
    ops = []
    for node_id in sorted(node_ids):
        node = index.nodes.get(node_id)
        if node is None:
            continue
        wanted = unique(([ingress["ID"]] if ingress is not None and ingress["ID"] in book.pools else [])
                        + book.node_networks(node_id))
        current = {schema.get_path(attachment, "Network.ID"): attachment for attachment in node.get("Attachments") or []}
        if sorted(current) == sorted(wanted):
            continue
        missing = [network_id for network_id in wanted if network_id not in current]
        try:
            fresh = dict(zip(missing, book.allocate(missing)))
        except (ValueError, ipam.Exhausted):
            continue
        attachments = [copy.deepcopy(current[network_id]) if network_id in current else
                       {"Network": {"ID": network_id}, "Addresses": [fresh[network_id]]} for network_id in wanted]
        ops.append(patch_op("nodes", node, {"Attachments": attachments}))
    return ops
