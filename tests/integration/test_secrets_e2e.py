"""Secrets and configs as a user meets them on a real one-host cluster: create from a file and from
stdin, ls/inspect output, refusals (text and exit code), services referencing them by name, rm refused
while in use, and ``secret rotate`` rolling the service that uses the secret (new tasks appear). The data
is sealed: not a byte of it in the host's state directory (Raft log, snapshots, logs)."""

from __future__ import annotations

import base64
import secrets
import subprocess

import pytest

from tests.integration.cluster import IMAGE, SHOAL, containers, running_cluster, tasks, wait_until

SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
CANARY = f"s1-canary-{secrets.token_hex(12)}".encode()


@pytest.fixture(scope="module")
def manager(tmp_path_factory, docker_engine):
    with running_cluster(tmp_path_factory.mktemp("secrets"), workers=0) as cluster:
        yield cluster.hosts[0]


def shoal_input(manager, data: bytes, *args: str) -> subprocess.CompletedProcess:
    """``shoal ARGS`` with ``data`` on its standard input."""
    return subprocess.run(SHOAL + ["--state-dir", str(manager.state_dir), *args], input=data, capture_output=True,
                          timeout=60)


def refused(result, message: str) -> None:
    stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
    assert result.returncode == 1 and stderr == f"Error: {message}\n", stderr


@pytest.fixture(scope="module")
def created(manager, tmp_path_factory):
    """s1-pw from a file (a label), s1-token from stdin, s1-conf a config: their IDs by name."""
    path = tmp_path_factory.mktemp("data") / "pw"
    path.write_bytes(CANARY)
    ids = {"s1-pw": manager.shoal("secret", "create", "--label", "env=prod", "s1-pw", str(path)).stdout.strip()}
    made = shoal_input(manager, b"token-value\n", "secret", "create", "s1-token", "-")
    assert made.returncode == 0, made.stderr
    ids["s1-token"] = made.stdout.decode().strip()
    ids["s1-conf"] = shoal_input(manager, b"listen 80;\n", "config", "create", "s1-conf", "-").stdout.decode().strip()
    return ids


def test_ls_and_inspect_show_the_secrets_never_their_data(manager, created):
    table = manager.shoal("secret", "ls").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]
    assert [line.split()[:2] for line in table[1:]] == [[created["s1-pw"], "s1-pw"], [created["s1-token"], "s1-token"]]
    assert manager.shoal("secret", "ls", "-q", "--filter", "label=env=prod").stdout.split() == [created["s1-pw"]]
    assert manager.shoal("secret", "ls", "--filter", "name=s1-t", "--format", "{{.Name}}").stdout.split() == ["s1-token"]
    inspected = manager.json("secret", "inspect", "s1-pw")
    assert set(inspected[0]) == {"ID", "Version", "CreatedAt", "UpdatedAt", "Spec"}
    assert inspected[0]["Spec"] == {"Name": "s1-pw", "Labels": {"env": "prod"}}
    pretty = manager.shoal("secret", "inspect", "--pretty", created["s1-pw"]).stdout
    assert pretty.splitlines()[:2] == [f"ID:          {created['s1-pw']}", "Name:        s1-pw"] and " - env=prod" in pretty
    config = manager.json("config", "inspect", "s1-conf")[0]
    assert base64.b64decode(config["Spec"]["Data"]) == b"listen 80;\n"
    assert manager.shoal("config", "inspect", "--pretty", "s1-conf").stdout.endswith("Data:\nlisten 80;\n\n")
    assert manager.shoal("config", "ls").stdout.splitlines()[0].split() == ["ID", "NAME", "CREATED", "UPDATED"]


def test_refusals_are_one_line_with_exit_code_1(manager, created):
    refused(shoal_input(manager, b"again", "secret", "create", "s1-pw", "-"), "secret s1-pw already exists")
    refused(shoal_input(manager, b"x" * 512000, "secret", "create", "s1-big", "-"),
            "secret data must be larger than 0 and less than 512000 bytes")
    refused(manager.shoal("secret", "inspect", "s1-nope", check=False), "no such secret: s1-nope")
    refused(manager.shoal("service", "create", "--detach", "--secret", "s1-nope", IMAGE, check=False),
            "secret not found: s1-nope")
    refused(manager.shoal("service", "create", "--detach", "--secret", "s1-pw", "--secret",
                          "source=s1-token,target=/run/secrets/s1-pw", IMAGE, check=False),
            "secret references 's1-pw' and 's1-token' have a conflicting target: '/run/secrets/s1-pw'")


@pytest.fixture(scope="module")
def web(manager, created):
    """s1-web: one replica using s1-pw (long syntax) and s1-conf, running."""
    manager.shoal("service", "create", "--detach", "--name", "s1-web", "--update-monitor", "1s",
                  "--secret", "source=s1-pw,target=/etc/app/pw,uid=33,gid=33,mode=0400", "--config", "s1-conf",
                  IMAGE, *SERVE)
    wait_until(lambda: running_tasks(manager, "s1-web"), 30, what="s1-web running")
    return manager.json("service", "inspect", "s1-web")[0]


def running_tasks(manager, service: str) -> set[str]:
    return {t["ID"] for t in tasks(manager, service) if t["Status"]["State"] == "running" and t["DesiredState"] == "running"}


def files_seen(service: str) -> list[str]:
    """What each running container of ``service`` shows of its secret and config: owner, mode, content."""
    script = "stat -c '%u:%g %a' /etc/app/pw; cat /etc/app/pw; echo; cat /s1-conf"
    return [c.exec_run(["sh", "-c", script]).output.decode() for c in containers(service)]


def test_a_service_references_them_by_id_and_shows_them(manager, created, web):
    container = web["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert container["Secrets"] == [{"File": {"Name": "/etc/app/pw", "UID": "33", "GID": "33", "Mode": 0o400},
                                     "SecretID": created["s1-pw"], "SecretName": "s1-pw"}]
    assert container["Configs"][0]["ConfigID"] == created["s1-conf"] and container["Configs"][0]["File"]["Name"] == "/s1-conf"
    pretty = [line.split() for line in manager.shoal("service", "inspect", "--pretty", "s1-web").stdout.splitlines()]
    at = pretty.index(["Configs:"])
    assert pretty[at:at + 6] == [["Configs:"], ["Target:", "/s1-conf"], ["Source:", "s1-conf"],
                                 ["Secrets:"], ["Target:", "/etc/app/pw"], ["Source:", "s1-pw"]]
    assert files_seen("s1-web") == [f"33:33 400\n{CANARY.decode()}\nlisten 80;\n"]


def test_rm_is_refused_while_a_service_uses_it(manager, web):
    refused(manager.shoal("secret", "rm", "s1-pw", check=False),
            "secret 's1-pw' is in use by the following service: s1-web")
    refused(manager.shoal("config", "rm", "s1-conf", check=False),
            "config 's1-conf' is in use by the following service: s1-web")
    assert manager.shoal("secret", "rm", "s1-token").stdout.strip() == "s1-token"


def test_rotate_gives_a_new_value_and_rolls_the_service(manager, created, web):
    before = running_tasks(manager, "s1-web")
    version = manager.json("secret", "inspect", "s1-pw")[0]["Version"]["Index"]
    rotated = shoal_input(manager, CANARY + b"-2", "secret", "rotate", "s1-pw", "-")
    assert rotated.returncode == 0 and rotated.stdout.decode().splitlines() == [created["s1-pw"], "rolling service s1-web"]
    assert manager.json("secret", "inspect", "s1-pw")[0]["Version"]["Index"] > version
    wait_until(lambda: running_tasks(manager, "s1-web") - before, 30, what="a new s1-web task running")
    assert manager.json("service", "inspect", "s1-web")[0]["Spec"]["TaskTemplate"]["ForceUpdate"] == 1
    wait_until(lambda: files_seen("s1-web") == [f"33:33 400\n{CANARY.decode()}-2\nlisten 80;\n"], 10,
               what="the new value in the new task's container")


def test_a_secret_no_spec_uses_can_go_and_a_rollback_to_it_is_refused(manager, created, web):
    manager.shoal("service", "update", "--detach", "--secret-rm", "s1-pw", "s1-web")
    assert manager.shoal("secret", "rm", "s1-pw").stdout.strip() == "s1-pw"
    refused(manager.shoal("service", "rollback", "--detach", "s1-web", check=False), "secret not found: s1-pw")


def test_after_the_service_goes_they_can_be_removed_and_no_data_is_on_disk(manager, created, web):
    manager.shoal("service", "rm", "s1-web")
    assert manager.shoal("config", "rm", created["s1-conf"]).stdout.strip() == created["s1-conf"]
    assert manager.shoal("secret", "ls", "-q").stdout == "" and manager.shoal("config", "ls", "-q").stdout == ""
    leaks = [str(path) for path in manager.state_dir.rglob("*") if path.is_file()
             for needle in (CANARY, base64.b64encode(CANARY), CANARY.hex().encode()) if needle in path.read_bytes()]
    assert not leaks, f"secret data found in {leaks}"
