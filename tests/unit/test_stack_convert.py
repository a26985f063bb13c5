"""Compose files as Shoal's specs: Docker's names and labels, and every service key the issue lists, on the
shapes of real-world stack files (Docker's example voting app, awesome-compose entries) with the images
replaced by the test image."""

from __future__ import annotations

import pytest

from actors.stack.convert import IMAGE as IMAGE_LABEL, NAMESPACE
from actors.stack.errors import ComposeError
from tests.unit.stackfiles import IMAGE, stack

SECOND = 1_000_000_000

VOTING_APP = f"""
version: "3.9"
services:
  redis:
    image: {IMAGE}
    ports: ["6379"]
    networks: [frontend]
    deploy:
      replicas: 1
      update_config: {{parallelism: 2, delay: 10s}}
      restart_policy: {{condition: on-failure}}
  db:
    image: {IMAGE}
    environment:
      POSTGRES_USER: "postgres"
      POSTGRES_PASSWORD: "postgres"
    volumes: [db-data:/var/lib/postgresql/data]
    networks: [backend]
    deploy:
      placement:
        constraints: [node.role == manager]
  vote:
    image: {IMAGE}
    ports: [5000:80]
    networks: [frontend]
    depends_on: [redis]
    deploy:
      replicas: 2
      update_config: {{parallelism: 2}}
      restart_policy: {{condition: on-failure}}
  result:
    image: {IMAGE}
    ports: [5001:80]
    networks: [backend]
    depends_on: [db]
  worker:
    image: {IMAGE}
    networks: [frontend, backend]
    deploy:
      mode: replicated
      replicas: 1
      labels: [APP=VOTING]
      restart_policy: {{condition: on-failure, delay: 10s, max_attempts: 3, window: 120s}}
      placement:
        constraints: [node.role == manager]
  visualizer:
    image: {IMAGE}
    ports: ["8080:8080"]
    stop_grace_period: 1m30s
    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
    deploy:
      placement:
        constraints: [node.role == manager]
networks:
  frontend:
  backend:
volumes:
  db-data:
"""


def test_voting_app_names_labels_networks_and_policies(tmp_path):
    vote = stack(tmp_path, {"docker-stack.yml": VOTING_APP}, "vote")
    assert set(vote.services) == {"redis", "db", "vote", "result", "worker", "visualizer"}
    assert {key: d.name for key, d in vote.networks.items()} == {
        "frontend": "vote_frontend", "backend": "vote_backend", "default": "vote_default"}
    assert vote.networks["frontend"].spec == {
        "Name": "vote_frontend", "Labels": {NAMESPACE: "vote"}, "DriverConfiguration": {"Name": "overlay", "Options": {}},
        "Internal": False}
    worker = vote.services["worker"]
    assert worker["Name"] == "vote_worker"
    assert worker["Labels"] == {"APP": "VOTING", NAMESPACE: "vote", IMAGE_LABEL: IMAGE}
    assert worker["TaskTemplate"]["ContainerSpec"]["Labels"] == {NAMESPACE: "vote"}
    assert worker["TaskTemplate"]["Networks"] == [{"Target": "vote_backend", "Aliases": ["worker"]},
                                                  {"Target": "vote_frontend", "Aliases": ["worker"]}]
    assert worker["TaskTemplate"]["RestartPolicy"] == {"Condition": "on-failure", "Delay": 10 * SECOND,
                                                       "MaxAttempts": 3, "Window": 120 * SECOND}
    assert worker["TaskTemplate"]["Placement"] == {"Constraints": ["node.role == manager"]}
    redis = vote.services["redis"]
    assert redis["UpdateConfig"]["Parallelism"] == 2 and redis["UpdateConfig"]["Delay"] == 10 * SECOND
    assert redis["UpdateConfig"]["FailureAction"] == "pause"  # Docker's default where the file says nothing
    assert redis["EndpointSpec"] == {"Mode": "vip", "Ports": [
        {"Protocol": "tcp", "TargetPort": 6379, "PublishedPort": 0, "PublishMode": "ingress"}]}
    assert vote.services["vote"]["Mode"] == {"Replicated": {"Replicas": 2}}
    assert vote.services["result"]["Mode"] == {"Replicated": {"Replicas": 1}}
    assert vote.services["result"]["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"
    visualizer = vote.services["visualizer"]
    assert visualizer["TaskTemplate"]["Networks"] == [{"Target": "vote_default", "Aliases": ["visualizer"]}]
    assert visualizer["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] == 90 * SECOND
    assert visualizer["TaskTemplate"]["ContainerSpec"]["Mounts"] == [
        {"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/run/docker.sock"}]
    db = vote.services["db"]["TaskTemplate"]["ContainerSpec"]
    assert db["Env"] == ["POSTGRES_PASSWORD=postgres", "POSTGRES_USER=postgres"]
    assert db["Mounts"] == [{"Type": "volume", "Source": "vote_db-data", "Target": "/var/lib/postgresql/data",
                             "VolumeOptions": {"Labels": {NAMESPACE: "vote"}}}]


# awesome-compose's nginx-golang-mysql, as a stack: a secret from a file, healthcheck, two networks.
NGINX_GOLANG_MYSQL = f"""
services:
  backend:
    image: {IMAGE}
    secrets: [db-password]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: {IMAGE}
    command: '--default-authentication-plugin=mysql_native_password'
    restart: always
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent"]
      interval: 3s
      retries: 5
      start_period: 30s
    secrets:
      - source: db-password
        target: /run/secrets/db-password
        uid: "999"
        mode: 0400
    volumes: [db-data:/var/lib/mysql]
    environment:
      - MYSQL_DATABASE=example
      - MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db-password
    expose: [3306, 33060]
  proxy:
    image: {IMAGE}
    ports: [80:80]
    secrets: [z-token, db-password]
    configs:
      - source: nginx-conf
        target: /etc/nginx/conf.d/default.conf
      - mime
volumes:
  db-data: {{}}
secrets:
  db-password:
    file: db/password.txt
  z-token:
    environment: TOKEN
configs:
  nginx-conf:
    content: |
      server {{ listen 80; }}
  mime:
    file: db/password.txt
"""


def test_awesome_compose_secrets_configs_healthcheck_and_restart(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "password.txt").write_bytes(b"s3cret\n")
    app = stack(tmp_path, {"compose.yaml": NGINX_GOLANG_MYSQL}, "shop", {"TOKEN": "t"})
    assert app.secrets["db-password"].name == "shop_db-password"
    assert app.secrets["db-password"].spec == {"Name": "shop_db-password", "Labels": {NAMESPACE: "shop"}}
    assert app.secrets["db-password"].data == b"s3cret\n"
    assert app.configs["nginx-conf"].data == b"server { listen 80; }\n"
    backend = app.services["backend"]["TaskTemplate"]["ContainerSpec"]
    assert backend["Secrets"] == [{"File": {"Name": "db-password", "UID": "0", "GID": "0", "Mode": 0o444},
                                   "SecretName": "shop_db-password"}]
    db = app.services["db"]["TaskTemplate"]
    assert db["ContainerSpec"]["Secrets"] == [{"File": {"Name": "/run/secrets/db-password", "UID": "999", "GID": "0",
                                                        "Mode": 0o400}, "SecretName": "shop_db-password"}]
    assert db["ContainerSpec"]["Args"] == ["--default-authentication-plugin=mysql_native_password"]
    assert db["ContainerSpec"]["Healthcheck"] == {
        "Test": ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent"], "Interval": 3 * SECOND, "Retries": 5,
        "StartPeriod": 30 * SECOND}
    assert db["RestartPolicy"]["Condition"] == "any"  # restart: always, with no deploy.restart_policy
    proxy = app.services["proxy"]["TaskTemplate"]["ContainerSpec"]
    assert proxy["Configs"] == [  # sorted by name, a relative target (under / in the container) by default
        {"File": {"Name": "mime", "UID": "0", "GID": "0", "Mode": 0o444}, "ConfigName": "shop_mime"},
        {"File": {"Name": "/etc/nginx/conf.d/default.conf", "UID": "0", "GID": "0", "Mode": 0o444},
         "ConfigName": "shop_nginx-conf"}]
    assert [s["SecretName"] for s in proxy["Secrets"]] == ["shop_db-password", "shop_z-token"]


def test_every_listed_service_key_reaches_the_spec(tmp_path):
    app = stack(tmp_path, {"stack.yml": f"""
        services:
          api:
            image: {IMAGE}
            entrypoint: ["/bin/sh", "-c"]
            command: "echo hi && sleep 1000"
            environment: [A=1, FROM_SHELL]
            labels: {{com.example.container: api}}
            user: "1000:1000"
            working_dir: /srv
            hostname: "{{{{.Service.Name}}}}-{{{{.Task.Slot}}}}"
            stop_grace_period: 5s
            stop_signal: SIGINT
            init: true
            read_only: true
            cap_add: [NET_ADMIN]
            extra_hosts: ["db:10.0.0.2"]
            dns: 10.0.0.53
            ulimits: {{nofile: {{soft: 1024, hard: 2048}}, nproc: 512}}
            ports:
              - target: 80
                published: 8080
                protocol: udp
                mode: host
            networks:
              front:
                aliases: [api-alias]
            healthcheck:
              test: curl -f http://localhost
              timeout: 2s
            deploy:
              mode: replicated
              replicas: 4
              endpoint_mode: dnsrr
              labels: {{com.example.service: api}}
              placement:
                constraints: ["node.labels.zone == a"]
                preferences: [{{spread: node.labels.rack}}]
                max_replicas_per_node: 2
              resources:
                limits: {{cpus: "0.5", memory: 64M, pids: 100}}
                reservations: {{cpus: '0.25', memory: 32M}}
              update_config: {{parallelism: 2, delay: 1s, failure_action: rollback, monitor: 3s,
                              max_failure_ratio: 0.5, order: start-first}}
              rollback_config: {{parallelism: 0, failure_action: continue}}
          jobs:
            image: {IMAGE}
            deploy: {{mode: replicated-job, replicas: 3}}
          everywhere:
            image: {IMAGE}
            networks: [front]
            deploy: {{mode: global}}
        networks:
          front:
            internal: true
            labels: [team=web]
            ipam:
              config: [{{subnet: 10.250.0.0/24}}]
        """}, "s", {"FROM_SHELL": "yes"})
    api = app.services["api"]
    container = api["TaskTemplate"]["ContainerSpec"]
    assert container["Command"] == ["/bin/sh", "-c"] and container["Args"] == ["echo", "hi", "&&", "sleep", "1000"]
    assert container["Env"] == ["A=1", "FROM_SHELL=yes"]
    assert container["Labels"] == {"com.example.container": "api", NAMESPACE: "s"}
    assert (container["User"], container["Dir"], container["Hostname"]) == ("1000:1000", "/srv",
                                                                            "{{.Service.Name}}-{{.Task.Slot}}")
    assert (container["StopGracePeriod"], container["StopSignal"], container["Init"], container["ReadOnly"]) == (
        5 * SECOND, "SIGINT", True, True)
    assert container["CapabilityAdd"] == ["NET_ADMIN"] and container["Hosts"] == ["10.0.0.2 db"]
    assert container["DNSConfig"] == {"Nameservers": ["10.0.0.53"]}
    assert container["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048},
                                    {"Name": "nproc", "Soft": 512, "Hard": 512}]
    assert container["Healthcheck"] == {"Test": ["CMD-SHELL", "curl -f http://localhost"], "Timeout": 2 * SECOND}
    assert api["Labels"] == {"com.example.service": "api", NAMESPACE: "s", IMAGE_LABEL: IMAGE}
    assert api["Mode"] == {"Replicated": {"Replicas": 4}}
    assert api["EndpointSpec"] == {"Mode": "dnsrr", "Ports": [
        {"Protocol": "udp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}
    assert api["TaskTemplate"]["Networks"] == [{"Target": "s_front", "Aliases": ["api-alias", "api"]}]
    assert api["TaskTemplate"]["Placement"] == {"Constraints": ["node.labels.zone == a"], "MaxReplicas": 2,
                                                "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.rack"}}]}
    assert api["TaskTemplate"]["Resources"] == {
        "Limits": {"NanoCPUs": SECOND // 2, "MemoryBytes": 64 << 20, "Pids": 100},
        "Reservations": {"NanoCPUs": SECOND // 4, "MemoryBytes": 32 << 20}}
    assert api["UpdateConfig"] == {"Parallelism": 2, "Delay": SECOND, "FailureAction": "rollback",
                                   "Monitor": 3 * SECOND, "MaxFailureRatio": 0.5, "Order": "start-first"}
    assert api["RollbackConfig"]["Parallelism"] == 0 and api["RollbackConfig"]["FailureAction"] == "continue"
    assert app.services["jobs"]["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 3, "TotalCompletions": 3}}
    assert app.services["jobs"]["TaskTemplate"]["RestartPolicy"]["Condition"] == "on-failure"
    assert app.services["everywhere"]["Mode"] == {"Global": {}}
    assert app.services["jobs"]["TaskTemplate"]["Networks"] == [{"Target": "s_default", "Aliases": ["jobs"]}]
    assert app.networks["front"].spec["Internal"] is True
    assert app.networks["front"].spec["Labels"] == {"team": "web", NAMESPACE: "s"}
    assert app.networks["front"].spec["IPAMOptions"]["Configs"] == [{"Subnet": "10.250.0.0/24"}]


def test_external_and_named_objects_keep_their_names(tmp_path):
    app = stack(tmp_path, {"stack.yml": f"""
        services:
          web:
            image: {IMAGE}
            networks: [outside, named]
            volumes: [shared:/shared, mine:/mine]
            secrets: [token]
        networks:
          outside: {{external: true, name: corp-net}}
          named: {{name: fixed-name}}
        volumes:
          shared: {{external: true}}
          mine: {{driver: local, driver_opts: {{type: tmpfs, device: tmpfs}}}}
        secrets:
          token: {{external: true}}
        """})
    assert app.networks["outside"].name == "corp-net" and app.networks["outside"].spec is None
    assert app.networks["named"].spec["Name"] == "fixed-name"
    assert app.secrets["token"].name == "token" and app.secrets["token"].spec is None
    assert app.services["web"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"] == "token"
    mounts = app.services["web"]["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert mounts[0] == {"Type": "volume", "Source": "shared", "Target": "/shared"}
    assert mounts[1]["Source"] == "app_mine" and mounts[1]["VolumeOptions"] == {
        "Labels": {NAMESPACE: "app"}, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}}}


@pytest.mark.parametrize("text, message", [
    ("services:\n  web:\n    image: x\n    networks: [nowhere]\n",
     "stack.yml:4: services.web.networks: service 'web' refers to undefined network 'nowhere'"),
    ("services:\n  web:\n    image: x\n    secrets: [pw]\n", "stack.yml:4: services.web.secrets: undefined secret 'pw'"),
    ("services:\n  web:\n    image: x\n    volumes: [data:/data]\n", "undefined volume 'data'"),
    ("services:\n  web:\n    environment: [A=1]\n", "stack.yml:2: services.web: a service needs an image"),
    ("services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n",
     "stack.yml:6: services.web.deploy.replicas: replicas can only be used with replicated"),
    ("services:\n  web:\n    image: x\n    deploy:\n      placement:\n        constraints: [node.colour == red]\n",
     "stack.yml:2: services.web: "),
    ("services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      placement:\n        max_replicas_per_node: 1\n",
     "max_replicas_per_node can only be used with replicated"),
    ("services:\n  web:\n    image: x\nnetworks:\n  default:\n    ipam:\n      config: [{subnet: 10.0.0.5/24}]\n",
     "stack.yml:5: networks.default: invalid spec.IPAMOptions.Configs[0].Subnet: invalid IPv4 subnet '10.0.0.5/24': host bits are set"),
])
def test_references_and_specs_the_cluster_would_refuse(tmp_path, text, message):
    with pytest.raises(ComposeError) as error:
        stack(tmp_path, {"stack.yml": text})
    assert message in str(error.value)


def test_stack_and_service_names_must_fit(tmp_path):
    with pytest.raises(ComposeError, match="invalid stack name"):
        stack(tmp_path, {"stack.yml": f"services:\n  web:\n    image: {IMAGE}\n"}, "bad name")
    with pytest.raises(ComposeError, match="longer than 63 characters"):
        stack(tmp_path, {"stack.yml": f"services:\n  {'w' * 60}:\n    image: {IMAGE}\n"}, "app")


# What the real docker CLI (28.2.2) sent to POST /services/create for this file's "web" on `docker stack
# deploy --resolve-image never -c compose.yml s5d` (captured on the wire; ids and Privileges left out).
DOCKER_FILE = f"""
version: "3.8"
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    environment: {{B: "2", A: "1"}}
    labels: {{c: "1"}}
    ports: ["8081:80"]
    networks:
      back:
        aliases: [frontdoor]
    secrets: [key]
    configs: [motd]
    healthcheck:
      test: ["CMD", "true"]
      interval: 5s
    deploy:
      replicas: 2
      labels: {{tier: web}}
      update_config: {{parallelism: 2, monitor: 1s}}
      resources:
        limits: {{memory: 64M}}
      placement:
        constraints: [node.role == manager]
networks:
  back:
    labels: [purpose=test]
secrets:
  key:
    file: ./key.txt
configs:
  motd:
    file: ./motd.txt
"""
DOCKER_SENT = {
    "EndpointSpec": {"Ports": [{"Protocol": "tcp", "PublishMode": "ingress", "PublishedPort": 8081, "TargetPort": 80}]},
    "Labels": {"com.docker.stack.image": IMAGE, "com.docker.stack.namespace": "s5d", "tier": "web"},
    "Mode": {"Replicated": {"Replicas": 2}},
    "Name": "s5d_web",
    "TaskTemplate": {
        "ContainerSpec": {
            "Args": ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"],
            "Configs": [{"ConfigName": "s5d_motd", "File": {"GID": "0", "Mode": 292, "Name": "motd", "UID": "0"}}],
            "Env": ["A=1", "B=2"], "Healthcheck": {"Interval": 5 * SECOND, "Test": ["CMD", "true"]},
            "Image": IMAGE, "Labels": {"c": "1", "com.docker.stack.namespace": "s5d"},
            "Secrets": [{"File": {"GID": "0", "Mode": 292, "Name": "key", "UID": "0"}, "SecretName": "s5d_key"}]},
        "ForceUpdate": 0,
        "Networks": [{"Aliases": ["frontdoor", "web"], "Target": "s5d_back"}],
        "Placement": {"Constraints": ["node.role == manager"]},
        "Resources": {"Limits": {"MemoryBytes": 67108864}}},
    "UpdateConfig": {"MaxFailureRatio": 0, "Monitor": SECOND, "Order": "", "Parallelism": 2}}
# Where Docker's CLI leaves a field unset, swarmkit's defaults apply; Shoal writes them out (as its
# `service create` does): the same policy, in the spec.
SWARMKIT_DEFAULTS = {("UpdateConfig", "Order"): "stop-first"}


def _differences(docker, ours, path=()):
    """Paths where ``ours`` differs from what Docker sent (fields Docker left empty take swarmkit's default)."""
    if isinstance(docker, dict):
        return [d for key, value in docker.items() for d in _differences(value, (ours or {}).get(key), path + (key,))]
    if docker in ("", None):
        docker = SWARMKIT_DEFAULTS.get(path, ours)
    return [] if docker == ours else [(path, docker, ours)]


def test_same_service_spec_as_docker_stack_deploy_sends(tmp_path):
    (tmp_path / "key.txt").write_text("s5key")
    (tmp_path / "motd.txt").write_text("welcome")
    deployed = stack(tmp_path, {"compose.yml": DOCKER_FILE}, "s5d")
    ours = deployed.services["web"]
    assert _differences(DOCKER_SENT, ours) == []
    # POST /networks/create had {"Name": "s5d_back", "Driver": "overlay", "Internal": false, "Attachable": false,
    # "Labels": {...}}; POST /secrets/create {"Name": "s5d_key", "Labels": {...}, "Data": base64 of the file}
    network = deployed.networks["back"].spec
    assert (network["Name"], network["DriverConfiguration"]["Name"], network["Internal"], network["Labels"]) == (
        "s5d_back", "overlay", False, {"com.docker.stack.namespace": "s5d", "purpose": "test"})
    assert deployed.secrets["key"].spec == {"Name": "s5d_key", "Labels": {"com.docker.stack.namespace": "s5d"}}
    assert deployed.secrets["key"].data == b"s5key"
    # and what Shoal adds is swarmkit's default for what Docker left unset
    assert ours["TaskTemplate"]["RestartPolicy"] == {"Condition": "any", "Delay": 5 * SECOND, "MaxAttempts": 0}
    assert ours["UpdateConfig"]["FailureAction"] == "pause" and ours["EndpointSpec"]["Mode"] == "vip"


# More awesome-compose shapes (images replaced): wordpress-mysql, prometheus-grafana, react-express-mongodb.
WORDPRESS_MYSQL = f"""
services:
  db:
    image: {IMAGE}
    command: '--default-authentication-plugin=mysql_native_password'
    volumes:
      - db_data:/var/lib/mysql
    restart: always
    environment:
      - MYSQL_ROOT_PASSWORD=somewordpress
      - MYSQL_DATABASE=wordpress
    expose:
      - 3306
      - 33060
  wordpress:
    image: {IMAGE}
    ports:
      - 80:80
    restart: always
    environment:
      - WORDPRESS_DB_HOST=db
      - WORDPRESS_DB_NAME=wordpress
volumes:
  db_data:
"""
PROMETHEUS_GRAFANA = f"""
services:
  prometheus:
    image: {IMAGE}
    container_name: prometheus
    command:
      - '--config.file=/etc/prometheus/prometheus.yml'
    ports:
      - 9090:9090
    restart: unless-stopped
    volumes:
      - ./prometheus:/etc/prometheus
      - prom_data:/prometheus
  grafana:
    image: {IMAGE}
    container_name: grafana
    ports:
      - 3000:3000
    restart: unless-stopped
    environment:
      - GF_SECURITY_ADMIN_USER=admin
      - GF_SECURITY_ADMIN_PASSWORD=grafana
    volumes:
      - ./grafana:/etc/grafana/provisioning/datasources
volumes:
  prom_data:
"""
REACT_EXPRESS_MONGODB = f"""
services:
  frontend:
    build:
      context: frontend
      target: development
    image: {IMAGE}
    ports:
      - 3000:3000
    stdin_open: true
    volumes:
      - ./frontend:/usr/src/app
      - /usr/src/app/node_modules
    restart: always
    networks:
      - react-express
    depends_on:
      - backend
  backend:
    restart: always
    build:
      context: backend
      target: development
    image: {IMAGE}
    volumes:
      - ./backend:/usr/src/app
      - /usr/src/app/node_modules
    depends_on:
      - mongo
    networks:
      - express-mongo
      - react-express
    expose:
      - 3000
  mongo:
    restart: always
    image: {IMAGE}
    volumes:
      - ./data:/data/db
    networks:
      - express-mongo
    expose:
      - 27017
networks:
  react-express:
  express-mongo:
"""


@pytest.mark.parametrize("text, checks", [
    (WORDPRESS_MYSQL, {"db": {"Args": ["--default-authentication-plugin=mysql_native_password"]},
                       "wordpress": {"Env": ["WORDPRESS_DB_HOST=db", "WORDPRESS_DB_NAME=wordpress"]}}),
    (PROMETHEUS_GRAFANA, {"prometheus": {"Args": ["--config.file=/etc/prometheus/prometheus.yml"]},
                          "grafana": {"Env": ["GF_SECURITY_ADMIN_PASSWORD=grafana", "GF_SECURITY_ADMIN_USER=admin"]}}),
    (REACT_EXPRESS_MONGODB, {"frontend": {"OpenStdin": True}, "backend": {"Image": IMAGE}}),
])
def test_more_awesome_compose_entries_deploy_as_stacks(tmp_path, text, checks):
    app = stack(tmp_path, {"compose.yaml": text})
    for key, expected in checks.items():
        container = app.services[key]["TaskTemplate"]["ContainerSpec"]
        assert {field: container.get(field) for field in expected} == expected
    for service in app.services.values():
        assert service["TaskTemplate"]["RestartPolicy"]["Condition"] == "any"  # restart: always / unless-stopped
        for mount in service["TaskTemplate"]["ContainerSpec"].get("Mounts", []):
            if mount["Type"] == "bind":  # relative to the project directory, made absolute
                assert mount["Source"].startswith(str(tmp_path) + "/")
            elif mount.get("Source"):
                assert mount["Source"].startswith("app_") and mount["VolumeOptions"]["Labels"] == {NAMESPACE: "app"}
    networks = {entry["Target"] for service in app.services.values() for entry in service["TaskTemplate"]["Networks"]}
    assert networks <= {d.name for d in app.networks.values()}
