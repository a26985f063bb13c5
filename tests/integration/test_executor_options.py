"""Every ContainerSpec option, Resources limits, stop signal and grace, health checks and host-mode ports,
seen in the real container the adapter creates: in the engine's inspect and from inside the container."""

import threading
import time
import urllib.request

import docker.errors
import docker.utils
import pytest

from actors.executor import core
from actors.executor.engine import EngineError
from transport import schema
from tests.integration.cluster import IMAGE, free_base_port
from tests.integration import test_executor_engine as engine_tests
from tests.integration.test_executor_engine import make_task, run, wait_for

node_ids, engine = engine_tests.node_ids, engine_tests.engine  # the adapter's fixtures: fresh node ids, cleaned up
SECOND = 1_000_000_000


def task_with(spec=None, resources=None, **made):
    """A task of service h4opts with ``spec`` merged into its ContainerSpec."""
    task = make_task(**made)
    task["ServiceAnnotations"]["Name"] = "h4opts"
    task["Spec"]["ContainerSpec"].update(spec or {})
    if resources:
        task["Spec"]["Resources"] = resources
    return task


def inside(docker_client, container_id, command: str) -> str:
    """What ``sh -c command`` prints inside the running container (stdout and stderr)."""
    result = docker_client.containers.get(container_id).exec_run(["sh", "-c", command])
    return result.output.decode().strip()


def test_user_dir_hostname_env_groups_init_and_tty(engine, docker_client):
    spec = {"User": "1234:1234", "Dir": "/tmp/work", "Hostname": "{{.Service.Name}}-{{.Task.Slot}}",
            "Env": ["WHERE={{.Task.Name}}"], "Groups": ["1500"], "Init": True, "TTY": True, "OpenStdin": True}
    task = task_with(spec, slot=4)
    container_id = run(engine, task)
    attrs = docker_client.containers.get(container_id).attrs
    assert attrs["Config"]["User"] == "1234:1234" and attrs["Config"]["WorkingDir"] == "/tmp/work"
    assert attrs["Config"]["Tty"] is True and attrs["Config"]["OpenStdin"] is True
    assert attrs["HostConfig"]["Init"] is True and attrs["HostConfig"]["GroupAdd"] == ["1500"]
    assert inside(docker_client, container_id, "id -u; pwd; hostname; echo $WHERE; id -G") == \
        f"1234\n/tmp/work\nh4opts-4\nh4opts.4.{task['ID']}\n1234 1500"
    assert inside(docker_client, container_id, "cat /proc/1/comm") == "docker-init"


def test_mounts_bind_volume_and_tmpfs(engine, docker_client, tmp_path):
    (tmp_path / "greeting").write_text("hello from the host\n")
    task = task_with({"Mounts": [
        {"Type": "bind", "Source": str(tmp_path), "Target": "/host", "ReadOnly": True,
         "BindOptions": {"Propagation": "rprivate"}},
        {"Type": "volume", "Source": "h4vol-{{.Task.ID}}", "Target": "/vol",
         "VolumeOptions": {"Labels": {"owner": "{{.Service.Name}}"}, "DriverConfig": {"Name": "local"}}},
        {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o750}}]})
    volume = f"h4vol-{task['ID']}"
    try:
        container_id = run(engine, task)
        assert inside(docker_client, container_id, "cat /host/greeting") == "hello from the host"
        assert "Read-only file system" in inside(docker_client, container_id, "touch /host/nope")
        assert inside(docker_client, container_id, "echo kept > /vol/f && cat /vol/f") == "kept"
        assert docker_client.volumes.get(volume).attrs["Labels"] == {"owner": "h4opts"}
        tmpfs = inside(docker_client, container_id, "grep ' /scratch ' /proc/mounts")
        assert tmpfs.startswith("tmpfs /scratch tmpfs") and "size=1024k" in tmpfs
        assert inside(docker_client, container_id, "stat -c %a /scratch") == "750"
        mounts = {m["Destination"]: m for m in docker_client.containers.get(container_id).attrs["Mounts"]}
        assert mounts["/host"]["Propagation"] == "rprivate" and mounts["/host"]["RW"] is False
    finally:
        for container in engine.list_containers():
            engine.remove(container.container_id)
        docker_client.volumes.get(volume).remove()


def test_read_only_root_and_capabilities(engine, docker_client):
    container_id = run(engine, task_with({"ReadOnly": True, "CapabilityAdd": ["NET_ADMIN"],
                                          "CapabilityDrop": ["CHOWN"]}))
    assert "Read-only file system" in inside(docker_client, container_id, "touch /nope")
    effective = int(inside(docker_client, container_id, "grep CapEff /proc/self/status").split()[1], 16)
    assert effective & (1 << 12) and not effective & (1 << 0)  # CAP_NET_ADMIN is bit 12, CAP_CHOWN bit 0


def test_ulimits_dns_and_hosts(engine, docker_client):
    container_id = run(engine, task_with({
        "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
        "DNSConfig": {"Nameservers": ["10.0.0.2"], "Search": ["example.org"], "Options": ["ndots:2"]},
        "Hosts": ["10.1.2.3 db db.internal"]}))
    limits = inside(docker_client, container_id, "grep 'Max open files' /proc/self/limits").split()
    assert limits[3:5] == ["100", "200"]
    resolv = inside(docker_client, container_id, "cat /etc/resolv.conf")
    assert "nameserver 10.0.0.2" in resolv and "search example.org" in resolv and "options ndots:2" in resolv
    hosts = inside(docker_client, container_id, "grep 10.1.2.3 /etc/hosts").split()
    assert hosts[0] == "10.1.2.3" and {"db", "db.internal"} <= set(hosts[1:])


def test_resource_limits_and_memory_reservation_reach_the_cgroups(engine, docker_client):
    container_id = run(engine, task_with(resources={
        "Limits": {"NanoCPUs": SECOND // 2, "MemoryBytes": 64 << 20, "Pids": 50},
        "Reservations": {"NanoCPUs": SECOND // 4, "MemoryBytes": 32 << 20}}))
    host_config = docker_client.containers.get(container_id).attrs["HostConfig"]
    assert (host_config["NanoCpus"], host_config["Memory"], host_config["PidsLimit"], host_config["MemoryReservation"]) \
        == (SECOND // 2, 64 << 20, 50, 32 << 20)
    cgroups = inside(docker_client, container_id, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                     "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                     "/sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.soft_limit_in_bytes")
    memory, pids, quota, period, soft = cgroups.split()
    assert (int(memory), int(pids), int(quota) / int(period), int(soft)) == (64 << 20, 50, 0.5, 32 << 20)


def test_the_stop_signal_is_sent_and_the_grace_period_bounds_a_stop(engine, docker_client):
    polite = task_with({"StopSignal": "SIGUSR1", "StopGracePeriod": 5 * SECOND},
                       args=["sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"])
    stubborn = task_with({"StopGracePeriod": 1 * SECOND})  # sleep as PID 1 ignores SIGTERM
    polite_id, stubborn_id = run(engine, polite), run(engine, stubborn)
    config = docker_client.containers.get(polite_id).attrs["Config"]
    assert (config["StopSignal"], config["StopTimeout"]) == ("SIGUSR1", 5)
    stops = {c.task_id: core.stop(c) for c in engine.list_containers()}
    assert stops[polite["ID"]].timeout == 5 and stops[stubborn["ID"]].timeout == 1
    started = time.monotonic()
    core.perform(stops[polite["ID"]], engine, time.time())
    assert engine.inspect(polite_id).exit_code == 7 and time.monotonic() - started < 3
    started = time.monotonic()
    core.perform(stops[stubborn["ID"]], engine, time.time())
    assert engine.inspect(stubborn_id).exit_code == 137 and 0.9 < time.monotonic() - started < 4


def test_a_health_check_turns_healthy_and_its_changes_arrive_as_events(engine):
    seen, stop = [], threading.Event()
    watcher = threading.Thread(target=engine.watch_events, args=(seen.append, stop), daemon=True)
    watcher.start()
    try:
        task = task_with({"Healthcheck": {"Test": ["CMD-SHELL", "test -e /tmp/ok"], "Interval": SECOND // 5,
                                          "Timeout": SECOND, "Retries": 3}},
                         args=["sh", "-c", "sleep 1; touch /tmp/ok; sleep 100"])
        container_id = run(engine, task)
        assert engine.inspect(container_id).health == "starting"
        assert core.observed_status(engine.list_containers()[0], time.time())["State"] == "starting"
        wait_for(lambda: engine.list_containers()[0].health == "healthy", 10, what="healthy")
        assert core.observed_status(engine.list_containers()[0], time.time())["State"] == "running"
        wait_for(lambda: seen.count(task["ID"]) >= 2, 5, what="start and health_status events")
    finally:
        stop.set()
        watcher.join(timeout=5)


def test_an_unhealthy_container_fails_its_task(engine):
    task = task_with({"Healthcheck": {"Test": ["CMD", "false"], "Interval": SECOND // 5, "Retries": 2}})
    run(engine, task)
    wait_for(lambda: engine.list_containers()[0].health == "unhealthy", 10, what="unhealthy")
    status = core.observed_status(engine.list_containers()[0], time.time())
    assert (status["State"], status["Err"], status["Health"]) == ("failed", core.UNHEALTHY_ERR, "unhealthy")


@pytest.fixture
def image_with_healthcheck(docker_client):
    """h4-healthcheck:<random>, the test image plus a HEALTHCHECK that passes once /tmp/ok exists."""
    base = docker_client.containers.create(IMAGE, ["true"])
    tag = schema.new_id()[:12].lower()
    try:
        base.commit("h4-healthcheck", tag, changes=["HEALTHCHECK --interval=200ms --start-period=20s "
                                                   "CMD test -e /tmp/ok"])
    finally:
        base.remove()
    yield f"h4-healthcheck:{tag}"
    docker_client.images.remove(f"h4-healthcheck:{tag}", force=True)  # its containers may outlive this fixture


def test_the_images_own_health_check_gates_running(engine, docker_client, image_with_healthcheck):
    task = task_with(image=image_with_healthcheck, args=["sh", "-c", "sleep 1; touch /tmp/ok; sleep 100"])
    run(engine, task)
    assert core.observed_status(engine.list_containers()[0], time.time())["State"] == "starting"
    wait_for(lambda: engine.list_containers()[0].health == "healthy", 10, what="healthy")
    assert core.observed_status(engine.list_containers()[0], time.time())["State"] == "running"


def test_none_disables_the_images_health_check(engine, docker_client, image_with_healthcheck):
    container_id = run(engine, task_with({"Healthcheck": {"Test": ["NONE"]}}, image=image_with_healthcheck))
    assert engine.inspect(container_id).health == ""
    assert core.observed_status(engine.list_containers()[0], time.time())["State"] == "running"


def test_none_disables_the_health_check(engine, docker_client):
    container_id = run(engine, task_with({"Healthcheck": {"Test": ["NONE"]}}))
    assert docker_client.containers.get(container_id).attrs["Config"]["Healthcheck"]["Test"] == ["NONE"]
    assert engine.inspect(container_id).health == "" and engine.list_containers()[0].health == ""


def test_a_start_interval_the_engine_cannot_honour_is_refused_not_ignored(engine, docker_client):
    task = task_with({"Healthcheck": {"Test": ["CMD", "true"], "StartInterval": SECOND}})
    if docker.utils.version_lt(docker_client.api.api_version, "1.44"):
        with pytest.raises(EngineError, match="start interval needs Docker Engine API 1.44"):
            engine.create(task)
    else:
        healthcheck = docker_client.containers.get(engine.create(task)).attrs["Config"]["Healthcheck"]
        assert healthcheck["StartInterval"] == SECOND


def test_a_host_mode_port_answers_http_from_the_host(engine, docker_client):
    port = free_base_port()
    task = task_with(args=["sh", "-c", "echo hello-h4 > /www/index.html && httpd -f -p 80 -h /www"],
                     ports=[{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": port, "PublishMode": "host"}])
    container_id = run(engine, task)
    assert docker_client.containers.get(container_id).attrs["Config"]["ExposedPorts"] == {"80/tcp": {}}

    def answer():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read().decode()
        except OSError:
            return None
    assert wait_for(answer, 10, what="an HTTP answer") == "hello-h4\n"


@pytest.mark.parametrize("spec, words", [({"CapabilityAdd": ["NOPE"]}, "NOPE"),
                                         ({"Hostname": "{{.Service.Nope}}"}, "no field .Service.Nope")])
def test_an_option_the_engine_or_a_template_refuses_is_an_engine_error_in_its_words(engine, spec, words):
    with pytest.raises(EngineError, match=words):
        run(engine, task_with(spec))


def test_the_engine_error_of_a_refused_option_is_not_a_docker_exception(engine):
    with pytest.raises(EngineError) as refused:
        run(engine, task_with({"Mounts": [{"Type": "bind", "Source": "/no/such/dir/h4", "Target": "/x"}]}))
    assert not isinstance(refused.value, docker.errors.DockerException) and "/no/such/dir/h4" in str(refused.value)
