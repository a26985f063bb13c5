"""Rebalancing: moving a few tasks of a replicated service whose spread has become uneven.

Swarm never moves a running task (moby/moby#24103): a node that joins, comes
back or turns active again stays empty until tasks fail or the service is
updated. Shoal evens a replicated service out again, towards where the
scheduler would place its tasks today, within the service's update policy:

- only a service at rest starts moves: no update or scale-down under way,
  and every slot's one task running from the current spec on a node that is
  up, none failed within ``UpdateConfig.Monitor``;
- a move is start-first, whatever the update order, so the service never
  drops below its replica count: the slot gets a second task, which the
  scheduler places, and the old one is shut down once the new one runs (a
  replacement no node can take is given up);
- at most ``UpdateConfig.Parallelism`` slots move at once (0: all that
  should), and a batch starts ``UpdateConfig.Delay`` after the last task of
  the service came up;
- a task moves only if that strictly improves the spread: were it pending,
  the node the scheduler would choose holds fewer of the service's tasks
  (spread groups first, then the node itself) than its own node would.

``Spec.Shoal.Rebalance: false`` turns it off for one service. The answer is
the updater's :class:`UpdatePlan`, which reconcile.py applies the same way;
the two never touch the same slot (the updater takes slots whose task is out
of date, this module slots whose tasks are all current).
"""

from __future__ import annotations

from collections import Counter

from actors.common.placement.filters import default_pipeline
from actors.common.placement.spread import Ranking, spread_labels
from actors.common.taskspec import is_dirty
from actors.common.viewindex import ViewIndex, is_active, is_ended, is_unassigned, observed_state, wants_running
from actors.orchestrator.slots import kept_slots
from actors.orchestrator.update import UpdatePlan, UpdatePolicy, running_since
from transport import schema

UPDATE_UNDER_WAY = ("updating", "paused", "rollback_started", "rollback_paused")
SETBACKS = (schema.FAILED, schema.REJECTED)


def enabled(service: dict) -> bool:
    """True unless the service turned rebalancing off (``Spec.Shoal.Rebalance: false``)."""
    return schema.get_path(service, "Spec.Shoal.Rebalance") is not False


def plan_rebalance(service: dict, slots: dict[int, list[dict]], index: ViewIndex, now: float) -> UpdatePlan:
    """The rebalancer's next move for the replicated ``service`` at ``now`` (see the module docstring):
    ``slots`` maps each of its slots that may still run a task (the updater's slots: not ended
    for good by the restart policy) to its tasks, oldest first. Moves it decides are recorded on
    ``index.placement_load``, so later decisions of the pass see them."""
    plan = UpdatePlan()
    if enabled(service):
        _Rebalancer(service, slots, index, now, plan).run()
    return plan


class _Rebalancer:
    """One pass over one service."""

    def __init__(self, service: dict, slots: dict, index: ViewIndex, now: float, plan: UpdatePlan):
        self.service, self.slots, self.index, self.now, self.plan = service, slots, index, now, plan
        self.policy = UpdatePolicy.of(schema.get_path(service, "Spec.UpdateConfig"))
        # A task of the service as the scheduler would see a new one: what the moves are weighed for.
        self.template = {"ServiceID": service["ID"], "Spec": schema.get_path(service, "Spec.TaskTemplate") or {},
                         "Endpoint": {"Ports": schema.get_path(service, "Endpoint.Ports") or []}}
        self.busy = 0
        # Exactly Replicas slots: no scale-down decided, no slot missing a task.
        self.at_rest = (schema.get_path(service, "UpdateStatus.State") not in UPDATE_UNDER_WAY
                        and len(kept_slots(index, service["ID"])) == schema.desired_replicas(service))
        self.movable: list[tuple[int, dict]] = []  # (slot, its one running task)
        self.following = False  # a move under way was seen (and the load of every task built)

    def run(self) -> None:
        for slot in sorted(self.slots):
            self.survey(slot, self.slots[slot])
        self.wait_for_setbacks()
        if self.at_rest:
            room = len(self.movable) if self.policy.parallelism == 0 else self.policy.parallelism - self.busy
            self.move(room)

    def survey(self, slot: int, tasks: list[dict]) -> None:
        """Follow a move under way in ``slot``, or note whether its task may move."""
        current = [task for task in tasks if wants_running(task)]
        live = [task for task in current if not is_ended(task)]
        if len(current) == 2 and len(live) == 2 and not any(map(self.dirty, live)):
            self.follow_move(slot, *live)
        elif (len(current) == 1 and live and observed_state(live[0]) == schema.RUNNING and not self.dirty(live[0])
              and not self.index.node_lost(live[0].get("NodeID", ""))):
            self.movable.append((slot, live[0]))
            self.wait_for_delay(live[0])
        else:
            self.at_rest = False

    def dirty(self, task: dict) -> bool:
        """True if the updater will replace ``task`` (the same test as the updater's)."""
        return is_dirty(task, self.service)

    def follow_move(self, slot: int, old: dict, replacement: dict) -> None:
        """A slot with a replacement beside its task. Once the replacement runs, the slot reconciler keeps
        it and shuts the old task down; until then the slot is ours, and a replacement that waits for a
        node no node can be is given up."""
        self.following = True
        if not is_unassigned(replacement):
            self.index.placement_load.forget(old["NodeID"], old)  # leaving: weigh further moves without it
        if observed_state(replacement) == schema.RUNNING:
            self.wait_for_delay(replacement)
            return
        self.plan.claimed.add(slot)
        self.busy += 1
        if is_unassigned(replacement):
            # Until the scheduler has placed it, further moves could not count it and would all pick
            # the node it is bound for.
            self.at_rest = False
            if schema.get_path(replacement, "Status.Err"):
                self.plan.shutdown.append(replacement)

    def wait_for_delay(self, task: dict) -> None:
        """A slot whose task came up less than Delay ago is busy until then."""
        if not self.policy.delay:
            return
        until = running_since(task) + self.policy.delay
        if until > self.now:
            self.busy += 1
            self.plan.wake_no_later_than(until)

    def wait_for_setbacks(self) -> None:
        """No move starts within Monitor of a task of the service failing or a replacement being given up."""
        for tasks in self.slots.values():
            for task in tasks:
                setback = observed_state(task) in SETBACKS or (
                    not wants_running(task) and not task.get("NodeID") and not is_ended(task))
                until = schema.stored_time(task.get("UpdatedAt")) + self.policy.monitor if setback else 0
                if until > self.now:
                    self.at_rest = False
                    self.plan.wake_no_later_than(until)

    def move(self, room: int) -> None:
        """Start up to ``room`` moves, most crowded nodes first, while each improves the spread."""
        if not self.movable or not self.may_improve(self.spread()):
            return  # decided from the service's own tasks: the load of every task is not built
        load = self.index.placement_load
        while room > 0 and self.movable and self.may_improve(load.nodes_of(self.service["ID"])):
            chosen = self.next_move()
            if chosen is None:
                return
            (slot, task), destination = chosen
            self.movable.remove((slot, task))
            self.plan.create.append(slot)
            self.plan.claimed.add(slot)
            load.forget(task["NodeID"], task)
            load.record(destination, task)  # where the scheduler will put its replacement
            room -= 1

    def spread(self) -> Counter:
        """Node id -> the service's active tasks on it, as ``index.placement_load`` counts them before this
        pass moves any: counted from the service's own tasks unless a move under way built the load."""
        if self.following:
            return self.index.placement_load.nodes_of(self.service["ID"])
        return Counter(task["NodeID"] for task in self.index.service_tasks(self.service["ID"])
                       if is_active(task) and not is_unassigned(task))

    def may_improve(self, on_node: Counter) -> bool:
        """False when no move can improve a spread without preferences: no node that takes new tasks holds
        two fewer of the service's tasks (``on_node``) than the most crowded one (a cheap test before the
        filters run)."""
        if spread_labels(self.template):
            return True
        crowded = max(on_node[task["NodeID"]] for _, task in self.movable)
        ready = self.index.ready_node_ids
        if not ready:
            return False
        hosting = [node_id for node_id, count in on_node.items() if count > 0 and node_id in ready]
        emptiest = 0 if len(hosting) < len(ready) else min(on_node[node_id] for node_id in hosting)
        return emptiest <= crowded - 2

    def next_move(self) -> tuple[tuple[int, dict], str] | None:
        """A task on the most crowded node that may keep it and the node its replacement would go to,
        if that improves the spread (when it does not from the most crowded node, it does from none)."""
        load, nodes, template = self.index.placement_load, self.index.sorted_nodes, self.template
        candidates, _ = default_pipeline(load).candidates(nodes, template)
        sources = {task["NodeID"] for _, task in self.movable}
        ranking = Ranking(candidates + [node for node in nodes if node["ID"] in sources and node not in candidates],
                          template, load)
        crowded_first = sorted(self.movable, reverse=True,
                               key=lambda entry: (ranking.spread_key(self.index.nodes[entry[1]["NodeID"]]), entry[0]))
        tried: set[str] = set()
        for slot, task in crowded_first:
            if task["NodeID"] in tried:
                continue
            tried.add(task["NodeID"])
            verdict = self.weigh(task)
            if verdict is not None:
                return ((slot, task), verdict) if verdict else None
        return None

    def weigh(self, task: dict) -> str | None:
        """The node ``task``'s replacement would go to if that improves the spread, "" if it would not,
        None if the task's own node no longer takes it (paused, or no longer meeting the constraints: the
        enforcer's business, and moves from other nodes may still help)."""
        load, nodes, template = self.index.placement_load, self.index.sorted_nodes, self.template
        source = self.index.nodes[task["NodeID"]]
        load.forget(source["ID"], task)
        try:
            candidates, _ = default_pipeline(load).candidates(nodes, template)
            if source not in candidates:
                return None
            ranking = Ranking(candidates, template, load)
            destination = ranking.best()
            return destination["ID"] if ranking.spread_key(destination) < ranking.spread_key(source) else ""
        finally:
            load.record(source["ID"], task)
