"""``shoal stack`` on a real cluster: a compose file with two services, a network, a secret and a config deployed
(the files in the containers), seen through
``stack ls/services/ps`` and in the engine's containers, re-deployed unchanged (nothing moves) and changed
(only the changed service rolls), an invalid file refused with nothing written, and the stack removed."""

from __future__ import annotations

import textwrap

import pytest

from tests.integration.cluster import IMAGE, containers, resolved, running_cluster, tasks, wait_until

STACK = "s5stack"
COMPOSE = f"""
version: "3.8"
x-serve: &serve
  image: {IMAGE}
  command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
services:
  web:
    <<: *serve
    environment:
      GREETING: ${{GREETING:-hello}}
    networks:
      back:
        aliases: [frontdoor]
    secrets:
      - source: api_key
        target: key.txt
        mode: 0400
    configs: [motd]
    deploy:
      replicas: 2
      update_config: {{parallelism: 2, monitor: 1s}}
      labels: {{tier: web}}
  db:
    <<: *serve
    build: ./db
    networks: [back]
networks:
  back:
    labels: [purpose=test]
secrets:
  api_key:
    file: ./key.txt
configs:
  motd:
    content: welcome
"""


@pytest.fixture(scope="module")
def manager(tmp_path_factory, docker_engine):
    with running_cluster(tmp_path_factory.mktemp("stack"), workers=0) as cluster:
        yield cluster.hosts[0]


@pytest.fixture(scope="module")
def compose_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("compose") / "stack.yml"
    path.write_text(COMPOSE)
    (path.parent / "key.txt").write_text("s5-stack-key")
    return path


def _service_rows(manager) -> dict[str, str]:
    out = manager.shoal("stack", "services", STACK, "--format", "{{.Name}} {{.Replicas}}").stdout
    return dict(line.split() for line in out.splitlines())


@pytest.fixture(scope="module")
def deployed(manager, compose_file):
    result = manager.shoal("stack", "deploy", "--detach=false", "-q", "-c", str(compose_file), STACK)
    assert _service_rows(manager) == {f"{STACK}_db": "1/1", f"{STACK}_web": "2/2"}  # it waited for them
    return result


def test_deploy_creates_docker_named_objects_and_running_containers(manager, deployed):
    assert deployed.stdout.splitlines() == [f"Creating network {STACK}_back", f"Creating secret {STACK}_api_key",
                                            f"Creating config {STACK}_motd", f"Creating service {STACK}_db",
                                            f"Creating service {STACK}_web"]
    assert "Ignoring unsupported options: build" in deployed.stderr
    assert manager.shoal("stack", "ls").stdout.split() == ["NAME", "SERVICES", STACK, "2"]
    web = manager.json("service", "inspect", f"{STACK}_web")[0]["Spec"]
    assert web["Labels"] == {"tier": "web", "com.docker.stack.namespace": STACK, "com.docker.stack.image": IMAGE}
    network = manager.json("network", "inspect", f"{STACK}_back")[0]
    assert network["Spec"]["Labels"] == {"purpose": "test", "com.docker.stack.namespace": STACK}
    running = containers(f"{STACK}_web")
    assert len(running) == 2
    for container in running:
        assert "GREETING=hello" in container.attrs["Config"]["Env"]
        assert container.labels["com.docker.stack.namespace"] == STACK
        files = container.exec_run(["sh", "-c", "cat /run/secrets/key.txt; echo; stat -c %a /run/secrets/key.txt; "
                                                "cat /motd"]).output.decode().split()
        assert files == ["s5-stack-key", "400", "welcome"]
    # Each service answers on the stack's network by its short name and its aliases, as in Docker.
    names = resolved(containers(f"{STACK}_db")[0], "web", "frontdoor", "db")
    assert all(names.values()), names
    ps = manager.shoal("stack", "ps", STACK, "--format", "{{.Name}} {{.CurrentState}}").stdout.splitlines()
    assert sorted(line.split()[0] for line in ps) == [f"{STACK}_db.1", f"{STACK}_web.1", f"{STACK}_web.2"]
    assert all(line.split()[1] == "Running" for line in ps)


def _environments(service: str) -> list[str]:
    """The GREETING entry of each running container of ``service``."""
    return sorted(next((e for e in c.attrs["Config"]["Env"] if e.startswith("GREETING=")), "")
                  for c in containers(service))


def test_redeploy_updates_only_what_changed(manager, compose_file, deployed):
    before = {service: {t["ID"] for t in tasks(manager, f"{STACK}_{service}")} for service in ("web", "db")}
    web_id = manager.json("service", "inspect", f"{STACK}_web")[0]["ID"]
    again = manager.shoal("stack", "deploy", "-c", str(compose_file), STACK)
    assert again.stdout == ""  # the secret and config are updated as they are, as Docker's deploy does
    key = compose_file.parent / "key.txt"
    key.write_text("another-key")
    try:  # a secret's data cannot change by a deploy: refused (Docker's words), not kept without a word
        refused = manager.shoal("stack", "deploy", "-c", str(compose_file), STACK, check=False)
    finally:
        key.write_text("s5-stack-key")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (f"Error: failed to update secret {STACK}_api_key: only updates to "
                                               "Labels are allowed (change its data with 'shoal secret rotate')")
    assert "another-key" not in refused.stdout + refused.stderr
    (compose_file.parent / ".env").write_text("GREETING=bonjour\n")  # read from the project's directory
    changed = manager.shoal("stack", "deploy", "-d=false", "-c", str(compose_file), STACK).stdout.splitlines()
    assert changed[0] == f"Updating service {STACK}_web (id: {web_id})"
    assert changed[-1] == "verify: Service converged" and changed.count("verify: Service converged") == 1
    assert _environments(f"{STACK}_web") == ["GREETING=bonjour"] * 2
    assert {t["ID"] for t in tasks(manager, f"{STACK}_db")} == before["db"]


def test_an_invalid_file_is_refused_before_any_write(manager, compose_file, deployed, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(textwrap.dedent(f"""
        services:
          web:
            image: {IMAGE}
            deploy:
              replicas: 5
          extra:
            image: {IMAGE}
            networks: [missing]
        """))
    result = manager.shoal("stack", "deploy", "-c", str(compose_file), "-c", str(broken), STACK, check=False)
    assert result.returncode == 1
    assert result.stderr == (f"Error: {broken}:9: services.extra.networks: service 'extra' refers to undefined "
                             "network 'missing'\n")
    assert _service_rows(manager) == {f"{STACK}_db": "1/1", f"{STACK}_web": "2/2"}


def test_rm_removes_services_and_network(manager, deployed):
    result = manager.shoal("stack", "rm", STACK)
    assert result.stdout.splitlines() == [f"Removing service {STACK}_db", f"Removing service {STACK}_web",
                                          f"Removing secret {STACK}_api_key", f"Removing config {STACK}_motd",
                                          f"Removing network {STACK}_back"]
    assert STACK not in manager.shoal("secret", "ls").stdout
    assert manager.shoal("stack", "ls").stdout.split() == ["NAME", "SERVICES"]
    assert STACK not in manager.shoal("network", "ls").stdout
    missing = manager.shoal("stack", "ps", STACK, check=False)
    assert missing.returncode == 1 and missing.stderr == f"Error: nothing found in stack: {STACK}\n"
    again = manager.shoal("stack", "rm", STACK)  # as Docker: said on stderr, not an error
    assert (again.stdout, again.stderr) == ("", f"Nothing found in stack: {STACK}\n")
    wait_until(lambda: not containers(f"{STACK}_web") and not containers(f"{STACK}_db"), 30,
               what="the stack's containers gone")
