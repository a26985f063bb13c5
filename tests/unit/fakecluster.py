"""A real Store driven by the real orchestrator cores, with *fake workers* (tests of the cores only): the
workers start and stop tasks at once by patching statuses, as executors would report them."""

from __future__ import annotations

from typing import Callable

from actors.raft.store import Store
from transport import schema

TaskTest = Callable[[dict], bool]


class FakeWorkersCluster:
    """One store with ``services`` and ``nodes`` (id -> object), its clock at ``now``; ``apply`` proposes ops
    as an actor would (a refused batch fails the test) and ``work`` plays every worker once."""

    def __init__(self, services: dict, nodes: dict, now: float):
        self.store = Store()
        self.store.restore({"index": 100, "tables": {"services": services, "nodes": nodes}})
        self.store.tables["cluster"] = {"c": {"ID": "c", "Spec": {}}}
        self.now = now
        self.counter = 0

    def view(self) -> dict:
        """The store's tables as the cores read a view."""
        return {"cluster": self.store.tables["cluster"]["c"], **self.store.tables}

    def apply(self, ops: list[dict]) -> None:
        """Commit ``ops`` (nothing when empty); the store must accept them."""
        if ops:
            result, _ = self.store.apply({"ops": ops}, self.store.index + 1, self.now)
            assert "error" not in result, result

    def new_id(self) -> str:
        """Task ids t1, t2, ... in creation order."""
        self.counter += 1
        return f"t{self.counter}"

    def work(self, fail: TaskTest = lambda task: False, node_for: Callable[[dict], str] | None = None) -> None:
        """Every fake worker acts once: a task told to stop stops; a new or assigned task meant to run
        runs on its node (or on ``node_for(task)`` when it has none; it stays pending with neither), or
        fails there when ``fail(task)``."""
        ops = []
        for task in self.store.tables["tasks"].values():
            state = task["Status"]["State"]
            if task["DesiredState"] == "shutdown" and not schema.is_terminal(state):
                ops.append(self._status(task, {"Status": schema.task_status("shutdown", "stopped", self.now)}))
            elif task["DesiredState"] == "running" and state in ("new", "assigned"):
                node_id = task["NodeID"] or (node_for(task) if node_for else "")
                if not node_id:
                    ops.append(self._status(task, {"Status": schema.task_status("pending", "pending", self.now)}))
                elif fail(task):
                    ops.append(self._status(task, {"Status": schema.task_status("failed", "", self.now),
                                                   "NodeID": node_id}))
                else:
                    ops.append(self._status(task, {"Status": schema.task_status("running", "", self.now),
                                                   "NodeID": node_id, "Shoal.RunningAt": schema.format_time(self.now)}))
        self.apply(ops)

    @staticmethod
    def _status(task: dict, changes: dict) -> dict:
        return {"op": "patch", "table": "tasks", "id": task["ID"], "set": changes}
