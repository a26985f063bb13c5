"""Two scheduler processes share the placing: a manager told to run two shards (host.json, SIGHUP) replaces
its scheduler with one process per shard, each holding its own lease, and services of both shards run."""

from __future__ import annotations

import re
import urllib.request

from actors.common.hostconfig import HostConfig
from actors.common.supervisor import reload_daemon
from actors.scheduler.shard import Shard
from tests.integration.cluster import IMAGE, Cluster, running_count, wait_until


def shard_metric(host, shard: int, name: str) -> float | None:
    """The sample ``name`` of shard ``shard``'s controller (labelled with its lease) from that shard's
    process; None when it exports none (yet)."""
    lease = Shard(shard, 2).lease
    port = HostConfig.load(host.state_dir).metrics_port("scheduler", shard)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    found = re.search(rf'^{name}{{controller="{re.escape(lease)}"}} (\S+)$', body, re.M)
    return float(found.group(1)) if found else None


def test_two_scheduler_shards_each_place_their_services(tmp_path, docker_engine):
    cluster = Cluster(tmp_path)
    try:
        manager = cluster.init_manager()
        config = HostConfig.load(manager.state_dir)
        config.scheduler_shards = 2
        config.save()
        assert reload_daemon(manager.state_dir)
        wait_until(lambda: all(shard_metric(manager, shard, "shoal_controller_lease_held") == 1 for shard in (0, 1)),
                   30, interval=0.5, what="both shards holding their leases")
        names, shards = [], set()
        while shards != {0, 1} and len(names) < 8:  # service ids are random: stop once each shard has one
            names.append(f"h3shard{len(names)}")
            manager.shoal("service", "create", "--detach", "--name", names[-1], "--stop-grace-period", "1s",
                          IMAGE, "sleep", "1000")
            service_id = manager.json("service", "inspect", names[-1])[0]["ID"]
            shards.add(0 if Shard(0, 2).owns({"ServiceID": service_id}) else 1)
        assert shards == {0, 1}, "8 services all hashed to one shard"
        wait_until(lambda: all(running_count(manager, name) == 1 for name in names), 60, interval=0.5,
                   what=f"{len(names)} services running")
        wait_until(lambda: all(shard_metric(manager, shard, "shoal_controller_ops_total") for shard in (0, 1)),
                   10, interval=0.5, what="ops proposed by each shard")
        logs = sorted(path.name for path in (manager.state_dir / "logs").glob("scheduler*.log"))
        assert logs == ["scheduler-shard-0-of-2.log", "scheduler-shard-1-of-2.log", "scheduler.log"]
    finally:
        cluster.teardown()
