"""The Docker Engine API on a real cluster (a manager and a worker): the real docker CLI and docker-py,
pointed at the manager's STATE_DIR/docker.sock, see and change what Shoal runs."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import random
import re
import shutil
import socket
import stat
import subprocess
import time
import urllib.request

import docker
import pytest

from actors.common import tlsfiles
from actors.common.hostconfig import HostConfig
from tests.integration.cluster import IMAGE, containers, running_cluster, wait_until

SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]  # stops at once on SIGTERM


def free_loopback_addr() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture(scope="module")
def tls_addr() -> str:
    """Where the manager serves the Engine API on TCP with mutual TLS from ``swarm init --engine-api-addr``."""
    return free_loopback_addr()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_engine, tls_addr):
    with running_cluster(tmp_path_factory.mktemp("engineapi"), workers=1,
                         init_args=("--engine-api-addr", tls_addr)) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def sock(cluster) -> str:
    path = cluster.hosts[0].state_dir / "docker.sock"
    wait_until(path.exists, 20, what="the engine API's socket")
    return str(path)


def docker_cli(sock: str, *args: str, check: bool = True, stdin: str = "", api: str | None = None) -> subprocess.CompletedProcess:
    """The real docker CLI with DOCKER_HOST at Shoal's socket (``stdin`` its input; ``api`` the API version
    it speaks instead of negotiating one)."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    env.pop("DOCKER_CONTEXT", None)
    env.pop("DOCKER_API_VERSION", None)
    if api:
        env["DOCKER_API_VERSION"] = api
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, env=env, input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


class UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over the unix socket, for requests no docker client would send."""

    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self._path)


def raw(sock: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    connection = UnixConnection(sock)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def service_ls_row(sock: str, name: str) -> str:
    rows = docker_cli(sock, "service", "ls", "--filter", f"name={name}", "--format", "{{.Name}} {{.Replicas}}").stdout
    return next((line for line in rows.splitlines() if line.split()[0] == name), "")


def test_the_socket_is_private_and_negotiates_the_version(sock):
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    out = docker_cli(sock, "version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Client.APIVersion}}").stdout
    assert out.split() == ["1.41", "1.24", "1.41"]  # the client (1.50) came down to the server's version


def test_docker_info_shows_the_swarm(sock, cluster):
    manager = cluster.hosts[0]
    out = docker_cli(sock, "info").stdout
    assert " Swarm: active" in out and " Is Manager: true" in out
    assert f"  NodeID: {manager.node_id}" in out and "  Managers: 1" in out and "  Nodes: 2" in out
    assert f"127.0.0.1:{manager.port}" in out  # Manager Addresses


def test_docker_swarm_update_autolock_and_tokens(sock, cluster):
    manager = cluster.hosts[0]
    docker_cli(sock, "swarm", "update", "--autolock=true", "--task-history-limit", "4")
    key = docker_cli(sock, "swarm", "unlock-key", "-q").stdout.strip()
    assert key.startswith("SWMKEY-1-") and key == manager.shoal("swarm", "unlock-key", "-q").stdout.strip()
    assert "  Autolock Managers: true" in docker_cli(sock, "info").stdout
    docker_cli(sock, "swarm", "update", "--autolock=false")
    assert "no unlock key is set" in docker_cli(sock, "swarm", "unlock-key", check=False).stderr
    before = manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
    rotated = docker_cli(sock, "swarm", "join-token", "-q", "--rotate", "worker").stdout.strip()
    assert rotated != before and rotated == manager.shoal("swarm", "join-token", "-q", "worker").stdout.strip()
    refused = docker_cli(sock, "swarm", "update", "--cert-expiry", "48h", check=False)
    assert refused.returncode == 1 and "swarm setting CAConfig cannot be changed on Shoal" in refused.stderr
    assert manager.json("swarm", "inspect")[0]["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"] == 4


def test_docker_node_ls_and_update(sock, cluster):
    worker = cluster.hosts[1]
    rows = docker_cli(sock, "node", "ls", "--format", "{{.ID}} {{.Status}} {{.ManagerStatus}} {{.Self}}").stdout.splitlines()
    assert sorted(rows) == sorted([f"{cluster.hosts[0].node_id} Ready Leader true", f"{worker.node_id} Ready  false"])
    docker_cli(sock, "node", "update", "--label-add", "zone=blue", worker.node_id)
    shown = cluster.hosts[0].json("node", "inspect", worker.node_id)[0]
    assert shown["Spec"]["Labels"] == {"zone": "blue"}  # Shoal's own CLI sees what docker's wrote


def test_docker_service_lifecycle(sock, cluster):
    """create, ls N/N with the containers running, ps, inspect --pretty, scale, update, rm."""
    docker_cli(sock, "service", "create", "-d", "--name", "s6-web", "--replicas", "2", "--constraint", "node.labels.zone==blue",
               IMAGE, *SERVE)
    wait_until(lambda: service_ls_row(sock, "s6-web") == "s6-web 2/2", 30, what="service ls to show 2/2")
    running = containers("s6-web")
    assert len(running) == 2 and {c.labels["shoal.node.id"] for c in running} == {cluster.hosts[1].node_id}
    ps = docker_cli(sock, "service", "ps", "s6-web", "--format", "{{.Name}} {{.DesiredState}} {{.CurrentState}}").stdout
    assert sorted(line.split()[:3] for line in ps.splitlines()) == [["s6-web.1", "Running", "Running"],
                                                                    ["s6-web.2", "Running", "Running"]]
    assert docker_cli(sock, "inspect", "-f", "{{.Spec.Name}}", "s6-web").stdout.strip() == "s6-web"  # no --type
    pretty = docker_cli(sock, "service", "inspect", "--pretty", "s6-web").stdout
    assert re.search(r"Replicas:\s+2", pretty) and "node.labels.zone==blue" in pretty and IMAGE in pretty
    docker_cli(sock, "service", "scale", "-d", "s6-web=3")
    docker_cli(sock, "service", "update", "-d", "--env-add", "S6=yes", "--update-parallelism", "3", "s6-web")
    wait_until(lambda: len([c for c in containers("s6-web") if "S6=yes" in c.attrs["Config"]["Env"]]) == 3, 30,
               what="three containers with the new environment")
    wait_until(lambda: service_ls_row(sock, "s6-web") == "s6-web 3/3", 30, what="service ls to show 3/3")
    # before API 1.41 the CLI counts the replicas itself, from /tasks
    old = docker_cli(sock, "service", "ls", "--filter", "name=s6-web", "--format", "{{.Name}} {{.Replicas}}", api="1.30")
    assert old.stdout.split() == ["s6-web", "3/3"]
    docker_cli(sock, "service", "rm", "s6-web")
    wait_until(lambda: not containers("s6-web", running_only=False), 30, what="the containers to go")
    assert "s6-web" not in docker_cli(sock, "service", "ls").stdout


TICKER = "echo s12-start; echo s12-oops >&2; trap 'exit 0' TERM; i=0; while true; do i=$((i+1)); echo s12-tick-$i; sleep 0.2; done"
STAMPED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (s12-logs\.\d\.\w{12}@\S+) +\| s12-tick-\d+")


def test_docker_service_logs_prefixed_tailed_and_followed(sock):
    """docker service logs: the CLI's NAME.SLOT.TASK@NODE prefix (from the details Shoal sends), stdout and
    stderr apart, --tail with -t, a task's logs; -f shows every line once, in order, until the service is removed;
    a service with a terminal: its output raw (not framed), with --raw only, as Docker."""
    docker_cli(sock, "service", "create", "-d", "--name", "s12-logs", "--replicas", "2", IMAGE, "sh", "-c", TICKER)
    docker_cli(sock, "service", "create", "-d", "--name", "s12-tty", "--tty", IMAGE, "sh", "-c",
               "trap 'exit 0' TERM; echo s12-tty-out; sleep 1000 & wait")
    rows = docker_cli(sock, "service", "ps", "s12-logs", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.Node}}").stdout
    prefixes = {task_id: f"{name}.{task_id[:12]}@{node}" for task_id, name, node in (row.split() for row in rows.splitlines())}
    assert len(prefixes) == 2
    wait_until(lambda: docker_cli(sock, "service", "logs", "s12-logs").stdout.count("| s12-tick-2\n") == 2, 30,
               what="both tasks' output")
    shown = docker_cli(sock, "service", "logs", "s12-logs")
    for prefix in prefixes.values():
        assert f"{prefix}    | s12-start" in shown.stdout.splitlines()
        assert shown.stderr.splitlines().count(f"{prefix}    | s12-oops") == 1 and "s12-oops" not in shown.stdout
    tailed = docker_cli(sock, "service", "logs", "--tail", "1", "-t", "s12-logs").stdout.splitlines()
    assert sorted(STAMPED.fullmatch(line).group(1) for line in tailed) == sorted(prefixes.values()), tailed
    task_id, prefix = next(iter(prefixes.items()))
    of_task = docker_cli(sock, "service", "logs", "--no-task-ids", task_id).stdout.splitlines()
    assert of_task[0] == prefix.replace(f".{task_id[:12]}@", "@") + "    | s12-start"
    wait_until(lambda: docker_cli(sock, "service", "logs", "--raw", "s12-tty").stdout, 30, what="the tty service's output")
    assert docker_cli(sock, "service", "logs", "--raw", "s12-tty").stdout.rstrip("\r\n") == "s12-tty-out"  # no frame header
    refused = docker_cli(sock, "service", "logs", "s12-tty", check=False)
    assert refused.returncode == 1 and "tty service logs only supported with --raw" in refused.stderr
    docker_cli(sock, "service", "rm", "s12-tty")
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
    with subprocess.Popen(["docker", "service", "logs", "-f", "s12-logs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as follower:
        time.sleep(3)
        docker_cli(sock, "service", "rm", "s12-logs")
        out, err = follower.communicate(timeout=15)  # the stream ends once the service is gone
    assert follower.returncode == 0, err
    for prefix in prefixes.values():
        ticks = [int(line.rpartition("-")[2]) for line in out.splitlines() if line.startswith(f"{prefix}    | s12-tick-")]
        assert len(ticks) >= 10 and ticks == list(range(1, len(ticks) + 1)), ticks  # none repeated, none lost
    wait_until(lambda: not containers("s12-logs", running_only=False) and not containers("s12-tty", running_only=False),
               30, what="the containers to go")


def test_a_stale_update_is_out_of_sequence(sock):
    client = docker.DockerClient(base_url=f"unix://{sock}")
    service = client.services.create(IMAGE, SERVE, name="s6-py", mode=docker.types.ServiceMode("replicated", 1))
    try:
        stale = client.api.inspect_service(service.id)["Version"]["Index"]
        docker_cli(sock, "service", "scale", "-d", "s6-py=2")  # reads the service afresh: its update goes in
        with pytest.raises(docker.errors.APIError, match="update out of sequence"):
            client.api.update_service(service.id, stale, task_template=docker.types.TaskTemplate(
                docker.types.ContainerSpec(IMAGE, SERVE)), name="s6-py")
    finally:
        service.remove()


def test_docker_py_services_nodes_and_swarm(sock, cluster):
    client = docker.DockerClient(base_url=f"unix://{sock}")
    assert client.api.api_version == "1.41"
    assert client.swarm.attrs["ID"] == json.loads((cluster.hosts[0].state_dir / "host.json").read_text())["cluster_id"]
    assert sorted(node.id for node in client.nodes.list()) == sorted(host.node_id for host in cluster.hosts)
    service = client.services.create(IMAGE, SERVE, name="s6-dpy", env=["P=1"], mode=docker.types.ServiceMode("replicated", 2))
    try:
        assert [s.name for s in client.services.list(filters={"name": "s6-dpy"})] == ["s6-dpy"]
        assert client.services.get("s6-dpy").id == service.id
        wait_until(lambda: len([t for t in service.tasks() if t["Status"]["State"] == "running"]) == 2, 30,
                   what="two running tasks")
        assert all("P=1" in c.attrs["Config"]["Env"] for c in containers("s6-dpy")) and len(containers("s6-dpy")) == 2
    finally:
        service.remove()
    with pytest.raises(docker.errors.APIError) as refused:
        client.containers.list()
    assert refused.value.status_code == 501 and "not served by Shoal" in refused.value.explanation


def test_docker_secrets_and_configs_reach_the_container(sock):
    """docker secret/config create, a service using them (the files in its container, with their modes),
    rm refused while in use; docker-py's secrets.create."""
    docker_cli(sock, "secret", "create", "s6-pw", "-", stdin="s6-secret-value")
    docker_cli(sock, "config", "create", "s6-conf", "-", stdin="s6 config\n")
    assert docker_cli(sock, "secret", "ls", "--format", "{{.Name}}").stdout.split() == ["s6-pw"]
    shown = json.loads(docker_cli(sock, "secret", "inspect", "s6-pw").stdout)[0]
    assert set(shown) == {"ID", "Version", "CreatedAt", "UpdatedAt", "Spec"}  # never the data
    docker_cli(sock, "service", "create", "-d", "--name", "s6-sec", "--secret", "s6-pw",
               "--config", "source=s6-conf,target=/etc/s6.conf,mode=0400", IMAGE, *SERVE)
    wait_until(lambda: service_ls_row(sock, "s6-sec") == "s6-sec 1/1", 30, what="service ls to show 1/1")
    container = containers("s6-sec")[0]
    out = container.exec_run(["sh", "-c", "cat /run/secrets/s6-pw; echo; cat /etc/s6.conf; stat -c %a /run/secrets/s6-pw /etc/s6.conf"])
    assert out.output.decode().split("\n")[:4] == ["s6-secret-value", "s6 config", "444", "400"]
    refused = docker_cli(sock, "secret", "rm", "s6-pw", check=False)
    assert refused.returncode == 1 and "secret 's6-pw' is in use by the following service: s6-sec" in refused.stderr
    client = docker.DockerClient(base_url=f"unix://{sock}")
    made = client.secrets.create(name="s6-py-pw", data=b"py-value", labels={"by": "docker-py"})
    assert client.secrets.get(made.id).name == "s6-py-pw" and "Data" not in client.secrets.get(made.id).attrs["Spec"]
    docker_cli(sock, "service", "rm", "s6-sec")
    docker_cli(sock, "secret", "rm", "s6-pw", "s6-py-pw")
    docker_cli(sock, "config", "rm", "s6-conf")
    assert docker_cli(sock, "secret", "ls", "-q").stdout.strip() == ""


STACK = """
version: "3.8"
services:
  web:
    image: shoal-test:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    environment: [MODE=prod]
    deploy:
      replicas: 2
      update_config: {parallelism: 1}
    networks: [front]
    secrets: [pw]
    configs: [{source: conf, target: /etc/app.conf}]
  agent:
    image: shoal-test:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    deploy: {mode: global}
networks:  # subnets of their own: clusters of other tests on this engine take the pool's first ones
  default: {ipam: {config: [{subnet: "10.OCTET.1.0/24"}]}}
  front: {ipam: {config: [{subnet: "10.OCTET.2.0/24"}]}}
secrets:
  pw: {file: ./pw.txt}
configs:
  conf: {file: ./app.conf}
"""


def test_docker_stack_deploy_ps_services_rm(sock, tmp_path):
    """The docker CLI translates the compose file itself; what it creates through the socket runs."""
    (tmp_path / "compose.yml").write_text(STACK.replace("OCTET", str(random.randrange(200, 250))))
    (tmp_path / "pw.txt").write_text("s6-stack-secret")
    (tmp_path / "app.conf").write_text("s6 app\n")
    docker_cli(sock, "stack", "deploy", "-c", str(tmp_path / "compose.yml"), "s6st")
    rows = lambda: sorted(docker_cli(sock, "stack", "services", "s6st", "--format", "{{.Name}} {{.Replicas}}").stdout.split("\n"))
    wait_until(lambda: rows() == ["", "s6st_agent 2/2", "s6st_web 2/2"], 30, what="the stack's services to run")
    assert docker_cli(sock, "stack", "ls", "--format", "{{.Name}} {{.Services}}").stdout.split() == ["s6st", "2"]
    tasks = docker_cli(sock, "stack", "ps", "s6st", "--format", "{{.Name}} {{.CurrentState}}").stdout.splitlines()
    assert len(tasks) == 4 and all(" Running " in f"{line} " for line in tasks)
    web = containers("s6st_web")[0]
    out = web.exec_run(["sh", "-c", "cat /run/secrets/pw; echo; cat /etc/app.conf; echo $MODE"]).output.decode()
    assert out.split("\n")[:3] == ["s6-stack-secret", "s6 app", "prod"]
    networks = docker_cli(sock, "network", "ls", "--filter", "label=com.docker.stack.namespace=s6st", "--format", "{{.Name}}")
    assert sorted(networks.stdout.split()) == ["s6st_default", "s6st_front"]
    # a re-deploy updates the existing secret and config with their (same) data, and scales web
    compose = (tmp_path / "compose.yml").read_text()
    (tmp_path / "compose.yml").write_text(compose.replace("replicas: 2", "replicas: 3"))
    docker_cli(sock, "stack", "deploy", "-c", str(tmp_path / "compose.yml"), "s6st")
    wait_until(lambda: rows() == ["", "s6st_agent 2/2", "s6st_web 3/3"], 30, what="web to run 3 tasks")
    (tmp_path / "pw.txt").write_text("s6-other-secret")
    changed = docker_cli(sock, "stack", "deploy", "-c", str(tmp_path / "compose.yml"), "s6st", check=False)
    assert changed.returncode == 1 and "only updates to Labels are allowed" in changed.stderr
    assert "s6-other-secret" not in changed.stderr
    docker_cli(sock, "stack", "rm", "s6st")
    wait_until(lambda: not containers("s6st_web", running_only=False) and not containers("s6st_agent", running_only=False),
               30, what="the stack's containers to go")
    wait_until(lambda: "s6st" not in docker_cli(sock, "network", "ls").stdout + docker_cli(sock, "secret", "ls").stdout,
               30, what="the stack's networks and secret to go")


# Each target keeps the id of what it stands for (nodes on one machine share an address: without it,
# Prometheus would merge their targets into one).
PROMETHEUS = """
global: {scrape_interval: 1h}
scrape_configs:
""" + "".join(f"""  - job_name: {role}
    dockerswarm_sd_configs: [{{host: "unix://SOCKET", role: {role}, refresh_interval: 1s}}]
    relabel_configs: [{{source_labels: [__meta_dockerswarm_{role[:-1]}_id], target_label: id}}]
""" for role in ("tasks", "services", "nodes"))


def discovered(port: int) -> dict[str, list[dict]]:
    """Prometheus's active targets' discovered labels, by job."""
    reply = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).read())
    jobs: dict[str, list[dict]] = {}
    for target in reply["data"]["activeTargets"]:
        jobs.setdefault(target["scrapePool"], []).append(target["discoveredLabels"])
    return jobs


def test_prometheus_dockerswarm_sd_discovers_every_task(sock, cluster, tmp_path):
    """A real Prometheus (Debian's) with dockerswarm_sd_configs at the socket: every task of a service on a
    network, its service, and both nodes."""
    octet = random.randrange(200, 250)
    docker_cli(sock, "network", "create", "-d", "overlay", "--subnet", f"10.{octet}.9.0/24", "s6-prom-net")
    docker_cli(sock, "service", "create", "-d", "--name", "s6-prom", "--replicas", "2", "--network", "s6-prom-net",
               IMAGE, *SERVE)
    (tmp_path / "prometheus.yml").write_text(PROMETHEUS.replace("SOCKET", sock))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / "prometheus.log", "wb")
    prometheus = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: service_ls_row(sock, "s6-prom") == "s6-prom 2/2", 30, what="service ls to show 2/2")
        running = {task["ID"] for task in docker.DockerClient(base_url=f"unix://{sock}").services.get("s6-prom").tasks()
                   if task["Status"]["State"] == "running"}

        def found():
            try:
                jobs = discovered(port)
            except OSError:  # not serving yet
                return None
            tasks = {t["__meta_dockerswarm_task_id"] for t in jobs.get("tasks", [])
                     if t.get("__meta_dockerswarm_network_name") == "s6-prom-net"}
            services = {t["__meta_dockerswarm_service_name"] for t in jobs.get("services", [])}
            nodes = {t["__meta_dockerswarm_node_id"] for t in jobs.get("nodes", [])}
            return (tasks, services, nodes) if tasks == running and "s6-prom" in services and len(nodes) == 2 else None
        tasks, _, nodes = wait_until(found, 30, what="Prometheus to discover the tasks, the service and the nodes")
        assert len(tasks) == 2 and nodes == {host.node_id for host in cluster.hosts}
    finally:
        prometheus.terminate()
        prometheus.wait(10)
        log.close()
        docker_cli(sock, "service", "rm", "s6-prom")
    wait_until(lambda: docker_cli(sock, "network", "rm", "s6-prom-net", check=False).returncode == 0, 30,
               what="the network to be removed")


def test_docker_network_ls_create_rm(sock):
    docker_cli(sock, "network", "create", "-d", "overlay", "--label", "team=s6", "s6-net")
    rows = docker_cli(sock, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}").stdout.splitlines()
    assert "s6-net overlay swarm" in rows and "ingress overlay swarm" in rows
    shown = json.loads(docker_cli(sock, "network", "inspect", "s6-net").stdout)[0]
    assert shown["Labels"] == {"team": "s6"} and shown["IPAM"]["Config"][0]["Subnet"]
    refused = docker_cli(sock, "network", "create", "s6-bridge", check=False)  # the CLI's default driver: bridge
    assert refused.returncode == 1
    assert refused.stderr.strip() == "Error response from daemon: network driver 'bridge' is not supported: Shoal's networks are overlay"
    docker_cli(sock, "network", "rm", "s6-net")
    assert "s6-net" not in docker_cli(sock, "network", "ls").stdout


def test_bad_requests_get_dockers_error_shapes(sock, cluster):
    assert raw(sock, "POST", "/v1.41/services/create", b"{nope")[0] == 400
    status, body = raw(sock, "POST", "/v1.41/services/create", json.dumps({"Name": "s6-x", "Colour": "red"}).encode())
    assert status == 400 and "Colour" in body["message"]
    status, body = raw(sock, "GET", "/v1.99/info")
    assert (status, body) == (400, {"message": "client version 1.99 is too new. Maximum supported API version is 1.41"})
    status, body = raw(sock, "GET", "/v1.41/services/s6-nothing")
    assert status == 404 and "s6-nothing" in body["message"]
    with socket.socket(socket.AF_UNIX) as huge:  # the body is refused on its stated length, before it is sent
        huge.settimeout(10)
        huge.connect(sock)
        huge.sendall(b"POST /v1.41/services/create HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n")
        answer = huge.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 413 ") and b'"message": "request body larger than' in answer
    port = HostConfig.load(cluster.hosts[0].state_dir).metrics_port("engineapi")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert re.search(r'shoal_engineapi_requests_total\{endpoint="service_create",status="400"\} [1-9]', metrics)
    assert re.search(r'shoal_engineapi_requests_total\{endpoint="info",status="200"\} [1-9]', metrics)


def docker_tls(addr: str, cert_path, *args: str) -> subprocess.CompletedProcess:
    """The real docker CLI at tcp://``addr`` with --tlsverify and DOCKER_CERT_PATH=``cert_path``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(cert_path), DOCKER_CERT_PATH=str(cert_path))  # no context of the machine's user
    return subprocess.run(["docker", "--tlsverify", "-H", f"tcp://{addr}", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_engine_api_on_tcp_with_mutual_tls(cluster, sock, tls_addr, tmp_path, monkeypatch):
    """Served from `swarm init --engine-api-addr`; the docker CLI and docker-py with a client certificate of
    this manager's CA are served; without one, or with one of another CA, the handshake refuses them;
    `shoal engine-api enable` moves the listener at runtime and `disable` closes it."""
    manager = cluster.hosts[0]
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override docker-py's ca_cert
        monkeypatch.delenv(name, raising=False)
    addr = tls_addr
    try:
        assert json.loads((manager.state_dir / "host.json").read_text())["engine_api_addr"] == addr
        manager.shoal("engine-api", "client-cert", "--out", str(tmp_path / "alice"), "--name", "alice")
        assert sorted(p.name for p in (tmp_path / "alice").iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
        docker_cli(sock, "service", "create", "--name", "s11-tls", "--replicas", "0", IMAGE, *SERVE)
        try:
            info = docker_tls(addr, tmp_path / "alice", "info")
            assert info.returncode == 0, info.stderr
            assert f"  NodeID: {manager.node_id}" in info.stdout
            listed = docker_tls(addr, tmp_path / "alice", "service", "ls", "--format", "{{.Name}} {{.Replicas}}")
            assert listed.returncode == 0 and "s11-tls 0/0" in listed.stdout.splitlines(), listed.stderr

            tls = docker.tls.TLSConfig(client_cert=(str(tmp_path / "alice" / "cert.pem"), str(tmp_path / "alice" / "key.pem")),
                                       ca_cert=str(tmp_path / "alice" / "ca.pem"), verify=True)
            client = docker.DockerClient(base_url=f"https://{addr}", tls=tls)
            assert [s.name for s in client.services.list(filters={"name": "s11-tls"})] == ["s11-tls"]
            client.close()
        finally:
            docker_cli(sock, "service", "rm", "s11-tls")

        (tmp_path / "anonymous").mkdir()
        shutil.copy(tmp_path / "alice" / "ca.pem", tmp_path / "anonymous" / "ca.pem")  # trusts the server, has no cert
        anonymous = docker_tls(addr, tmp_path / "anonymous", "info")
        assert anonymous.returncode != 0 and "NodeID" not in anonymous.stdout
        assert "tls: certificate required" in anonymous.stderr, anonymous.stderr  # the server's alert
        other = tmp_path / "other-state"
        tlsfiles.make_server_files(other, "127.0.0.1", "elsewhere", datetime.datetime.now(datetime.timezone.utc))
        tlsfiles.issue_client_files(other, tmp_path / "mallory", "mallory", 1, datetime.datetime.now(datetime.timezone.utc))
        os.remove(tmp_path / "mallory" / "ca.pem")
        shutil.copy(tmp_path / "alice" / "ca.pem", tmp_path / "mallory" / "ca.pem")  # trusts this server
        stranger = docker_tls(addr, tmp_path / "mallory", "info")
        assert stranger.returncode != 0 and "NodeID" not in stranger.stdout
        assert "tls: unknown certificate authority" in stranger.stderr, stranger.stderr
        assert (manager.state_dir / "logs" / "engineapi.log").read_text().count("refused a TLS client") >= 2
        with pytest.raises(docker.errors.DockerException):
            docker.DockerClient(base_url=f"https://{addr}",
                                tls=docker.tls.TLSConfig(ca_cert=str(tmp_path / "alice" / "ca.pem"), verify=True)).version()

        old, addr = addr, free_loopback_addr()
        manager.shoal("engine-api", "enable", "--addr", addr)  # moved: a new server certificate of the same CA
        with pytest.raises(OSError):
            socket.create_connection(old.split(":"), timeout=2).close()
        moved = docker_tls(addr, tmp_path / "alice", "version", "--format", "{{.Server.APIVersion}}")
        assert moved.stdout.strip() == "1.41", moved.stderr
    finally:
        manager.shoal("engine-api", "disable")
    host, port = addr.split(":")
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()
