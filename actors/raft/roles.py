"""Which managers are Raft members, and what each manager's status is: the leader's pure decisions.

Users say which nodes are managers (a node's ``Spec.Role``, written by
``swarm join`` with a manager token, ``node promote`` and ``node demote``).
The Raft leader brings the Raft configuration in line with it, one change at
a time (thesis §4.1), as swarmkit's role manager does:

- a new manager first joins as a learner and votes only once it has caught up
  (thesis §4.2.1);
- a learner or voter that is no longer wanted is removed;
- a leader that is no longer wanted hands leadership to a caught-up voter
  first, and the new leader removes it.

The leader also publishes each manager's ``ManagerStatus`` (Leader,
Reachability, Addr, Voter) on its node: it is the only writer of that field.
"""

from __future__ import annotations

import dataclasses

from transport import schema

ADD_LEARNER, PROMOTE, REMOVE, TRANSFER = "add_learner", "promote", "remove", "transfer"


@dataclasses.dataclass(frozen=True)
class MembershipChange:
    """One step towards the wanted configuration: a Raft conf change, or a leadership transfer."""

    action: str  # add_learner | promote | remove | transfer
    node_id: str


def wanted_managers(nodes: dict[str, dict]) -> set[str]:
    """Nodes that should be Raft members: role manager, with endpoints to reach them at."""
    return {node_id for node_id, node in nodes.items()
            if schema.get_path(node, "Spec.Role") == "manager" and schema.get_path(node, "Shoal.Endpoints")}


def next_change(wanted: set[str], voters: tuple[str, ...], learners: tuple[str, ...], leader: str,
                match: dict[str, int], last_index: int, catch_up_lag: int) -> MembershipChange | None:
    """The next change the leader should make, or None when the configuration is as wanted.

    ``match`` is the leader's replication progress (peer -> highest index known
    to be on it). A learner is promoted once it has answered and is within
    ``catch_up_lag`` of ``last_index``. Changes that grow safety come first (add, promote), then
    removals, and the leader's own removal last, as a transfer.
    """
    members = set(voters) | set(learners)
    for node_id in sorted(wanted - members):
        return MembershipChange(ADD_LEARNER, node_id)
    for node_id in sorted(set(learners) & wanted):
        if 0 < match.get(node_id, 0) and match[node_id] + catch_up_lag >= last_index:
            return MembershipChange(PROMOTE, node_id)
    for node_id in sorted(set(learners) - wanted):
        return MembershipChange(REMOVE, node_id)
    for node_id in sorted(set(voters) - wanted - {leader}):
        return MembershipChange(REMOVE, node_id)
    if leader not in wanted and len(voters) > 1:
        successors = sorted((v for v in voters if v != leader and v in wanted), key=lambda v: -match.get(v, 0))
        if successors:
            return MembershipChange(TRANSFER, successors[0])
    return None


def manager_status(node: dict, voters: tuple[str, ...], learners: tuple[str, ...], leader: str,
                   reachable: set[str]) -> dict | None:
    """The ``ManagerStatus`` the node should show (None when it is not a Raft member)."""
    node_id = node["ID"]
    if node_id not in voters and node_id not in learners:
        return None
    endpoints = schema.get_path(node, "Shoal.Endpoints") or {}
    return {"Leader": node_id == leader, "Reachability": "reachable" if node_id in reachable else "unreachable",
            "Addr": f"{endpoints.get('addr', '')}:{endpoints.get('port', '')}", "Voter": node_id in voters}


def manager_status_ops(nodes: dict[str, dict], voters: tuple[str, ...], learners: tuple[str, ...], leader: str,
                       reachable: set[str]) -> list[dict]:
    """Patches for the nodes whose ``ManagerStatus`` differs from what the leader sees now."""
    ops = []
    for node_id, node in sorted(nodes.items()):
        status = manager_status(node, voters, learners, leader, reachable)
        if node.get("ManagerStatus") != status:
            ops.append({"op": "patch", "table": "nodes", "id": node_id, "missing_ok": True,
                        "set": {"ManagerStatus": status}})
    return ops


def quorum_refusal(nodes: dict[str, dict], leaving: str) -> str | None:
    """Why making ``leaving`` stop being a manager would lose quorum (None when it is safe), as Swarm refuses it.

    Judged from the ``ManagerStatus`` the leader published: the voters that
    remain must still include a reachable majority of themselves.
    """
    voters = {node_id: node["ManagerStatus"] for node_id, node in nodes.items()
              if (node.get("ManagerStatus") or {}).get("Voter")}
    managers = wanted_managers(nodes)
    if managers == {leaving} or (leaving in voters and len(voters) == 1):
        return "attempting to demote the last manager of the swarm"
    if leaving not in voters:
        return None
    remaining = [status for node_id, status in voters.items() if node_id != leaving]
    reachable = sum(1 for status in remaining if status.get("Reachability") == "reachable")
    if reachable < len(remaining) // 2 + 1:
        return (f"can't remove {leaving} from the raft: this would result in a loss of quorum "
                f"({reachable} of the {len(remaining)} remaining managers are reachable)")
    return None
