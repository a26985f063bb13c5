"""A real Prometheus (Debian's, on loopback only) scrapes a live three-host cluster through the managers'
discovery endpoint, served, like the manager's metrics, over TLS with basic auth from a Prometheus web
config (the workers serve plain HTTP: each target's scheme comes from discovery). A bounded workload runs
(a constraint nothing meets then lifted, a secret, create, a container killed, scale, update, a worker host
killed and restarted, an Engine API call, rm); then every panel query of every board in dashboards/
returns data through Prometheus's HTTP API, and the degraded-service and node-down alerts fire and resolve.

The alerts come from a test-only rules file derived from dashboards/alerts.yml: the same expressions, each
``for:`` shortened to FOR_SECONDS, evaluated by this Prometheus every second (promtool test rules checks the
real durations: tests/unit/test_dashboards.py). ``promtool check metrics`` lints every actor's exposition."""

from __future__ import annotations

import base64
import json
import pathlib
import shutil
import ssl
import subprocess
import time
import urllib.parse
import urllib.request

import bcrypt
import docker
import pytest
import yaml

from tests.integration.cluster import IMAGE, Cluster, Host, free_base_port, running_count, wait_until
from tests.unit.test_dashboards import METRIC, base_name, exported_metrics
from tests.unit.test_metrics_endpoint import free_port, self_signed

DASHBOARDS = pathlib.Path(__file__).resolve().parents[2] / "dashboards"
BOARDS = ("reconciliation.json", "node.json")
FOR_SECONDS = 2
PASSWORD = "s9-scrape-password"
# Panel queries whose series exist only once an event the workload does not cause has happened (each a
# labelled counter, or a histogram over one, that the actors create at its first increment), with the reason.
NO_DATA_EXPECTED = {
    "sum by (controller, code) (rate(shoal_controller_proposal_errors_total[5m]))":
        "no controller proposal is refused in a healthy run",
    "sum by (type) (rate(shoal_raft_messages_dropped_total[5m]))": "one manager: no peer to drop messages to",
    "sum by (reason) (increase(shoal_raft_transfers_dropped_total[5m]))": "one manager: no chunked transfer",
    "sum by (action) (increase(shoal_raft_membership_changes_total[5m]))": "one manager: no membership change",
    "sum by (type) (rate(shoal_raft_messages_sent_total[1m]))": "one manager: no peer to send to",
    "sum by (type) (rate(shoal_raft_messages_received_total[1m]))": "one manager: no peer to receive from",
    "sum by (socket, role) (rate(shoal_requests_denied_total[5m]))": "no request with a key lacking its role",
    'sum by (node, plane) (increase(shoal_network_apply_failures_total{instance=~".+"}[5m]))':
        "no host network state fails to apply",
    'sum by (node, transport, rcode) (rate(shoal_dns_queries_total{instance=~".+"}[1m]))':
        "the workload's containers make no DNS query",
}


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    assert found, "prometheus is missing: run bin/shoal-docker-env (installs Debian's prometheus)"
    return found


class Prometheus:
    """Prometheus's HTTP API on loopback."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as answer:
            body = json.loads(answer.read())
        assert body["status"] == "success", body
        return body["data"]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def query(self, expr: str, at: float | None = None) -> list:
        return self.get("/api/v1/query", query=expr, **({"time": at} if at else {}))["result"]

    def firing(self, alert: str) -> list[dict]:
        return [a["labels"] for a in self.get("/api/v1/alerts")["alerts"]
                if a["labels"]["alertname"] == alert and a["state"] == "firing"]

    def targets(self) -> list[dict]:
        return self.get("/api/v1/targets", state="active")["activeTargets"]


def short_rules(directory: pathlib.Path) -> pathlib.Path:
    """dashboards/alerts.yml with each ``for:`` cut to FOR_SECONDS, written into ``directory``."""
    rules = yaml.safe_load((DASHBOARDS / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{FOR_SECONDS}s"
    path = directory / "alerts.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


def scrape_config(directory: pathlib.Path, manager: Host, cert: pathlib.Path) -> pathlib.Path:
    """dashboards/prometheus.yml pointed at this cluster's manager over TLS with basic auth, scraping and
    evaluating every second."""
    config = yaml.safe_load((DASHBOARDS / "prometheus.yml").read_text())
    secured = {"tls_config": {"ca_file": str(cert)}, "basic_auth": {"username": "prometheus", "password": PASSWORD}}
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(short_rules(directory))]
    job = config["scrape_configs"][0]
    job.update(secured, scrape_timeout="1s")
    job["http_sd_configs"] = [{"url": f"https://127.0.0.1:{manager.port + 11}/discovery", "refresh_interval": "2s",
                               **secured}]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def observed(tmp_path_factory, docker_engine):
    """A manager (metrics over TLS and basic auth) and two workers, scraped by a Prometheus on loopback:
    (cluster, Prometheus API)."""
    root = tmp_path_factory.mktemp("prometheus")
    cert, key = self_signed(root)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "web.yml").write_text(yaml.safe_dump({"tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
                                                  "basic_auth_users": {"prometheus": hashed}}))
    cluster = Cluster(root)
    prometheus = None
    try:
        port = free_base_port()
        manager = Host(root / "manager", port)
        cluster.hosts.append(manager)
        manager.shoal("swarm", "init", "--advertise-addr", f"127.0.0.1:{port}", "--metrics-web-config",
                      str(root / "web.yml"))
        cluster.join_worker("worker1")
        cluster.join_worker("worker2")
        api_port = free_port()
        log = open(root / "prometheus.log", "wb")
        prometheus = subprocess.Popen(
            [prometheus_binary(), f"--config.file={scrape_config(root, manager, cert)}",
             f"--storage.tsdb.path={root / 'tsdb'}", f"--web.listen-address=127.0.0.1:{api_port}"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        api = Prometheus(api_port)
        wait_until(api.ready, 20, interval=0.2, what=f"Prometheus ready (log: {root / 'prometheus.log'})")
        yield cluster, api
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(10)
        cluster.teardown()


def targets_up(api: Prometheus, count: int) -> list[dict]:
    up = [target for target in api.targets() if target["health"] == "up"]
    return up if len(up) == count else []


def test_prometheus_finds_every_actor_through_discovery_and_scrapes_it(observed):
    cluster, api = observed
    up = wait_until(lambda: targets_up(api, 13), 30, interval=0.5, what="9 manager and 2 x 2 worker targets up")
    labels = sorted((t["labels"]["actor"], t["labels"]["role"], t["scrapeUrl"].split(":")[0]) for t in up)
    assert labels.count(("executor", "worker", "http")) == labels.count(("shoald", "worker", "http")) == 2
    assert {label[0] for label in labels if label[1] == "manager"} == {
        "raft", "controlapi", "orchestrator", "allocator", "scheduler", "dispatcher", "executor", "engineapi", "shoald"}
    assert all(label[2] == "https" for label in labels if label[1] == "manager")
    assert {t["labels"]["node"] for t in up} == {host.node_id for host in cluster.hosts}


def workload(cluster: Cluster, api: Prometheus) -> float:
    """Run the workload, seeing the alerts fire and resolve; returns the time just before its last step,
    the services' removal (the panel queries are evaluated as of then: a removed service has no gauges)."""
    manager, _, worker2 = cluster.hosts
    # No node has the label: s9stuck runs 0 of 2 until the constraint goes (its alert is due meanwhile).
    manager.shoal("service", "create", "--detach", "--name", "s9stuck", "--replicas", "2", "--stop-grace-period", "0s",
                  "--constraint", "node.labels.s9==none", IMAGE, "sleep", "1000")
    (cluster.root / "secret.txt").write_text("s9 secret\n")
    manager.shoal("secret", "create", "s9-secret", str(cluster.root / "secret.txt"))
    manager.shoal("service", "create", "--name", "s9web", "--replicas", "2", "--secret", "s9-secret",
                  "--stop-grace-period", "0s", IMAGE, "sleep", "1000")
    docker.from_env().containers.list(filters={"label": "shoal.service.name=s9web"})[0].kill()
    manager.shoal("service", "scale", "--detach", "s9web=4")
    manager.shoal("service", "update", "--detach", "--update-parallelism", "4", "--update-monitor", "1s",
                  "--env-add", "S9=1", "s9web")
    worker2.kill9()
    wait_until(lambda: {"service": "s9stuck", "alertname": "ShoalServiceDegraded", "severity": "warning"}
               in api.firing("ShoalServiceDegraded"), 30, interval=0.5, what="the degraded alert for s9stuck")
    wait_until(lambda: any(alert["node"] == worker2.node_id for alert in api.firing("ShoalNodeDown")), 30,
               interval=0.5, what="the node-down alert for the killed worker")
    manager.shoal("service", "update", "--detach", "--constraint-rm", "node.labels.s9==none", "s9stuck")
    worker2.start_daemon()
    subprocess.run(["docker", "-H", f"unix://{manager.state_dir / 'docker.sock'}", "service", "ls"],
                   check=True, capture_output=True, timeout=30)
    wait_until(lambda: not api.firing("ShoalNodeDown"), 30, interval=0.5, what="the node-down alert resolved")
    wait_until(lambda: not api.firing("ShoalServiceDegraded"), 30, interval=0.5, what="the degraded alert resolved")
    wait_until(lambda: running_count(manager, "s9web") == 4, 30, what="s9web back to 4 tasks running")
    before_rm = time.time()
    manager.shoal("service", "rm", "s9web", "s9stuck")
    return before_rm


@pytest.fixture(scope="module")
def worked(observed):
    """The workload run on the observed cluster: (cluster, Prometheus API, the time before its removals)."""
    cluster, api = observed
    return cluster, api, workload(cluster, api)


def test_alerts_fire_and_resolve_during_a_workload(worked):
    cluster, api, _ = worked
    assert not api.firing("ShoalNoRaftLeader") and not api.firing("ShoalQuorumAtRisk")


def panel_queries() -> list[tuple[str, str, str]]:
    """(board, panel title, query) of every panel of every board, the variables set to match everything."""
    found = []
    for board in BOARDS:
        for panel in json.loads((DASHBOARDS / board).read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$service", ".+").replace("$instance", ".+")
                found.append((board, panel["title"], expr))
    return found


def test_every_panel_query_of_every_board_returns_data(worked):
    _, api, before_rm = worked
    exported = exported_metrics()  # a metric named on a board before its code has landed is not asked for yet
    empty = [(board, title, expr) for board, title, expr in panel_queries()
             if expr not in NO_DATA_EXPECTED and {base_name(name) for name in METRIC.findall(expr)} <= exported
             and not api.query(expr, before_rm)]
    assert empty == [], '\n'.join(map(str, empty))
    assert set(NO_DATA_EXPECTED) <= {expr for _, _, expr in panel_queries()}, "an exception names no panel query"


def exposition(target: dict, cert: pathlib.Path) -> bytes:
    """The text of ``target``'s /metrics, fetched as Prometheus does (TLS and basic auth on the manager)."""
    request = urllib.request.Request(target["scrapeUrl"])
    request.add_header("Authorization", "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10, context=ssl.create_default_context(cafile=str(cert))) as answer:
        return answer.read()


def test_promtool_finds_nothing_wrong_in_any_actors_metrics(observed):
    cluster, api = observed
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run bin/shoal-docker-env (installs Debian's prometheus)"
    for target in api.targets():
        text = exposition(target, cluster.root / "cert.pem")
        lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
        assert lint.returncode == 0, (target["labels"]["actor"], lint.stdout + lint.stderr)
