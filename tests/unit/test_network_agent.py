"""The host's network agent (actors/network/agent.py) with fake planes (recording functions standing for the
overlay, DNS and load-balancing planes): order, newest state only, retries, gating, stop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from actors.network import agent as agent_module
from actors.network.agent import NetworkAgent, Plane


class Log:
    def __init__(self):
        self.lines = []

    def info(self, msg, **fields):
        self.lines.append(("info", msg, fields))

    def warning(self, msg, **fields):
        self.lines.append(("warn", msg, fields))


def state(*network_ids):
    return {"Networks": [{"ID": i, "Name": "net-" + i} for i in network_ids], "Services": []}


class FakePlane:
    """Records (plane, state's networks) into a shared list; fails while ``failing`` is set; may block
    until ``release`` is set."""

    def __init__(self, name, calls, gates=False, keeps_account=False):
        self.name, self.calls, self.gates, self.keeps_account = name, calls, gates, keeps_account
        self.has = set()  # what it has in place, when it keeps its own account
        self.refused = set()  # networks it cannot program
        self.failing = 0
        self.release = threading.Event()
        self.release.set()
        self.stopped = False

    def apply(self, applied):
        self.release.wait(5)
        self.calls.append((self.name, tuple(n["ID"] for n in applied["Networks"])))
        self.has = {n["ID"] for n in applied["Networks"]} - self.refused
        if self.refused & {n["ID"] for n in applied["Networks"]}:
            raise OSError(f"cannot program {sorted(self.refused)}")
        if self.failing:
            self.failing -= 1
            raise OSError(f"{self.name} cannot program")

    def stop(self):
        self.calls.append((self.name, "stop"))

    def plane(self):
        return Plane(self.name, self.apply, self.stop, self.gates,
                     programmed=(lambda: self.has) if self.keeps_account else None)


async def until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def applied_lines(log):
    return [fields for level, msg, fields in log.lines if msg == "network state applied"]


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 10))


def test_fake_planes_apply_each_state_in_order_and_one_line_is_logged_per_state():
    async def scenario():
        calls, log = [], Log()
        planes = [FakePlane("overlay", calls, gates=True), FakePlane("dns", calls)]
        agent = NetworkAgent(log, [p.plane() for p in planes])
        runner = asyncio.ensure_future(agent.run())
        agent.offer(state("a"))
        await until(lambda: len(calls) == 2)
        agent.offer(state("a", "b"))
        await until(lambda: len(applied_lines(log)) == 2)  # written once the last plane has applied
        runner.cancel()
        applied = applied_lines(log)
        assert calls == [("overlay", ("a",)), ("dns", ("a",)), ("overlay", ("a", "b")), ("dns", ("a", "b"))]
        assert [(f["added"], f["removed"]) for f in applied] == [("net-a", "-"), ("net-b", "-")]
    run(scenario())


def test_a_state_superseded_while_a_fake_plane_applies_gives_way_to_the_newest():
    async def scenario():
        calls = []
        overlay = FakePlane("overlay", calls)
        agent = NetworkAgent(Log(), [overlay.plane()])
        runner = asyncio.ensure_future(agent.run())
        overlay.release.clear()
        agent.offer(state("a"))
        await asyncio.sleep(0.05)  # the first apply is under way, blocked
        agent.offer(state("b"))
        agent.offer(state("c"))
        overlay.release.set()
        await until(lambda: len(calls) == 2)
        await asyncio.sleep(0.1)
        runner.cancel()
        assert calls == [("overlay", ("a",)), ("overlay", ("c",))]  # "b" was never wanted by the time
    run(scenario())


def test_a_failing_fake_plane_is_retried_with_back_off_while_the_others_go_ahead(monkeypatch):
    monkeypatch.setattr(agent_module, "RETRY_FIRST_SECONDS", 0.05)
    before = agent_module.FAILURES.labels("overlay")._value.get()

    async def scenario():
        calls, log = [], Log()
        overlay, dns = FakePlane("overlay", calls, gates=True), FakePlane("dns", calls)
        overlay.failing = 2
        agent = NetworkAgent(log, [overlay.plane(), dns.plane()])
        runner = asyncio.ensure_future(agent.run())
        agent.offer(state("a"))
        await until(lambda: ("dns", ("a",)) in calls)
        assert not agent.has_networks({"a"})
        assert agent.failure() == "overlay: overlay cannot program"
        await until(lambda: agent.has_networks({"a"}))
        runner.cancel()
        assert [call for call in calls if call[0] == "overlay"] == [("overlay", ("a",))] * 3
        assert [call for call in calls if call[0] == "dns"] == [("dns", ("a",))]  # once the overlay had tried
        assert agent.failure() is None
        assert sum(1 for level, msg, _ in log.lines if msg == "network plane failed") == 2
    run(scenario())
    assert agent_module.FAILURES.labels("overlay")._value.get() == before + 2


def test_without_a_gating_plane_a_network_is_had_once_a_state_names_it():
    async def scenario():
        agent = NetworkAgent(Log(), [])
        assert not agent.has_networks({"a"})
        runner = asyncio.ensure_future(agent.run())
        agent.offer(state("a"))
        assert agent.has_networks({"a"}) and agent.has_networks(set()) and not agent.has_networks({"b"})
        runner.cancel()
    run(scenario())


def test_fake_planes_stop_the_last_first():
    calls = []
    agent = NetworkAgent(Log(), [FakePlane("overlay", calls).plane(), FakePlane("dns", calls).plane()])
    run(agent.stop())
    assert calls == [("dns", "stop"), ("overlay", "stop")]


@pytest.mark.parametrize("failing", [True, False])
def test_on_change_is_called_when_a_fake_plane_applies_or_fails(failing):
    async def scenario():
        calls, changed = [], asyncio.Event()
        overlay = FakePlane("overlay", calls, gates=True)
        overlay.failing = 1 if failing else 0
        agent = NetworkAgent(Log(), [overlay.plane()], on_change=changed.set)
        runner = asyncio.ensure_future(agent.run())
        agent.offer(state("a"))
        await asyncio.wait_for(changed.wait(), 2)
        runner.cancel()
        assert agent.has_networks({"a"}) is not failing
        assert (agent.failure() is not None) is failing
    run(scenario())


def test_a_container_change_has_only_the_fake_planes_that_follow_containers_apply_again():
    async def scenario():
        calls = []
        overlay, balancer = FakePlane("overlay", calls), FakePlane("loadbalancer", calls)
        agent = NetworkAgent(Log(), [overlay.plane(), Plane("loadbalancer", balancer.apply, follows_containers=True)])
        runner = asyncio.ensure_future(agent.run())
        agent.containers_changed()  # before any state: nothing to apply
        agent.offer(state("a"))
        await until(lambda: len(calls) == 2)
        agent.containers_changed()
        await until(lambda: len(calls) == 3)
        await asyncio.sleep(0.05)
        runner.cancel()
        assert calls == [("overlay", ("a",)), ("loadbalancer", ("a",)), ("loadbalancer", ("a",))]
    run(scenario())


def test_a_fake_plane_that_programs_some_networks_lets_their_tasks_go_while_it_fails_on_another():
    async def scenario():
        calls = []
        overlay = FakePlane("overlay", calls, gates=True, keeps_account=True)
        overlay.refused = {"b"}
        agent = NetworkAgent(Log(), [overlay.plane()])
        runner = asyncio.ensure_future(agent.run())
        agent.offer(state("a", "b"))
        await until(lambda: agent.failure() is not None)
        runner.cancel()
        assert agent.has_networks({"a"}) and not agent.has_networks({"b"})
        assert agent.failure() == "overlay: cannot program ['b']"
    run(scenario())


def test_a_slow_fake_plane_does_not_hold_up_another_planes_newer_state():
    async def scenario():
        calls = []
        overlay, dns, balancer = (FakePlane("overlay", calls, gates=True), FakePlane("dns", calls),
                                  FakePlane("loadbalancer", calls))
        agent = NetworkAgent(Log(), [overlay.plane(), dns.plane(), balancer.plane()])
        runner = asyncio.ensure_future(agent.run())
        balancer.release.clear()  # the load balancer takes its time over the first state
        agent.offer(state("a"))
        await until(lambda: ("dns", ("a",)) in calls)
        agent.offer(state("a", "b"))
        await until(lambda: ("dns", ("a", "b")) in calls)
        assert not any(call[0] == "loadbalancer" for call in calls)  # still on the first
        balancer.release.set()
        await until(lambda: ("loadbalancer", ("a", "b")) in calls)
        runner.cancel()
        assert [call for call in calls if call[0] == "loadbalancer"] == [("loadbalancer", ("a",)),
                                                                         ("loadbalancer", ("a", "b"))]
    run(scenario())


def test_on_change_is_not_called_for_fake_planes_that_do_not_gate_tasks():
    async def scenario():
        calls, changes = [], []
        agent = NetworkAgent(Log(), [FakePlane("overlay", calls, gates=True).plane(), FakePlane("dns", calls).plane()],
                             on_change=lambda: changes.append(len(calls)))
        runner = asyncio.ensure_future(agent.run())
        agent.offer(state("a"))
        await until(lambda: len(calls) == 2)
        await asyncio.sleep(0.05)
        runner.cancel()
        assert changes == [1]  # after the overlay's apply only: the executor's pass is not run for DNS
    run(scenario())


def test_a_fake_plane_stops_only_once_its_apply_in_flight_has_ended():
    async def scenario():
        calls = []
        overlay = FakePlane("overlay", calls, gates=True)
        agent = NetworkAgent(Log(), [overlay.plane()])
        runner = asyncio.ensure_future(agent.run())
        overlay.release.clear()
        agent.offer(state("a"))
        await asyncio.sleep(0.05)  # the apply is under way, blocked
        runner.cancel()  # as at host stop: the loop goes, the thread does not
        stopping = asyncio.ensure_future(agent.stop())
        await asyncio.sleep(0.1)
        assert calls == [] and not stopping.done()
        overlay.release.set()
        await asyncio.wait_for(stopping, 5)
        assert calls == [("overlay", ("a",)), ("overlay", "stop")]
    run(scenario())
