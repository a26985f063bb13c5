"""The CLI's side of secrets and configs: --secret/--config flags (Docker's long syntax), reading data,
inspect --pretty and JSON (no cluster)."""

import io

import click
import pytest

from actors.cli import datacommands, pretty
from actors.cli import flagvalues as fv
from actors.cli.pretty import data_object_pretty, service_pretty
from tests.unit.test_cli_specflags import created, updated
from transport import limits, model

CT = "TaskTemplate.ContainerSpec."


def test_a_bare_secret_name_mounts_it_under_its_name_with_dockers_defaults():
    spec = created("--secret", "db-pw", "--config", "app.conf")
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Secrets"] == [{"File": {"Name": "db-pw", "UID": "0", "GID": "0", "Mode": 0o444}, "SecretName": "db-pw"}]
    assert container["Configs"] == [{"File": {"Name": "/app.conf", "UID": "0", "GID": "0", "Mode": 0o444},
                                     "ConfigName": "app.conf"}]
    model.service_spec(spec, "spec")


def test_the_long_syntax_sets_target_owner_and_mode():
    spec = created("--secret", "source=db-pw,target=/etc/app/pw,uid=33,gid=44,mode=0400",
                   "--config", "src=app.conf,target=/etc/app.conf,mode=0o640")
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Secrets"][0]["File"] == {"Name": "/etc/app/pw", "UID": "33", "GID": "44", "Mode": 0o400}
    assert container["Configs"][0]["File"]["Mode"] == 0o640 and container["Configs"][0]["ConfigName"] == "app.conf"


@pytest.mark.parametrize("text, mode", [("0400", 0o400), ("0o400", 0o400), ("256", 256), ("0", 0), ("0x1ff", 0o777)])
def test_modes_are_read_as_gos_base_0_numbers_as_docker_reads_them(text, mode):
    assert fv.file_reference("Secret", "")(f"source=a,mode={text}")["File"]["Mode"] == mode


@pytest.mark.parametrize("text, message", [
    ("target=/x", "source is required"), ("source=a,mode=0999", "invalid mode"), ("source=a,mode=01000", "at most 0777"),
    ("source=a,uid=root", "invalid uid 'root'"), ("source=a,owner=1", "invalid field 'owner'"), ("", "source is required"),
])
def test_bad_references_are_one_line_usage_errors(text, message):
    with pytest.raises(click.UsageError) as raised:
        created("--secret", text)
    assert message in raised.value.format_message() and '"--secret" flag' in raised.value.format_message()


@pytest.mark.parametrize("args, message", [
    (["--secret", "a", "--secret", "source=b,target=a"], "duplicate secret target for b not allowed"),
    (["--secret", "a", "--secret", "a"], "duplicate secret target for a not allowed"),
    (["--config", "source=a,target=/etc/x", "--config", "source=b,target=/etc/x"],
     "duplicate config target for b not allowed"),
])
def test_two_references_at_one_target_in_one_command_are_refused_as_docker_does(args, message):
    # Docker's CLI refuses them; the later one silently replaced the earlier, so a named secret went missing.
    for command in (lambda: created(*args), lambda: updated(created(), *[a.replace("--secret", "--secret-add")
                                                                        .replace("--config", "--config-add")
                                                                        for a in args])):
        with pytest.raises(click.UsageError) as raised:
            command()
        assert raised.value.format_message() == message


def test_update_adds_replaces_by_target_and_removes_by_name():
    spec = created("--secret", "a", "--secret", "source=b,target=bee")
    spec = updated(spec, "--secret-rm", "a", "--secret-add", "source=c,target=bee", "--config-add", "conf")
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert [(r["SecretName"], r["File"]["Name"]) for r in container["Secrets"]] == [("c", "bee")]
    assert [r["ConfigName"] for r in container["Configs"]] == ["conf"]
    container["Secrets"][0]["SecretID"] = "id-c"  # as the control API stores it
    assert updated(spec, "--secret-rm", "id-c")["TaskTemplate"]["ContainerSpec"]["Secrets"] == []


def test_service_inspect_pretty_lists_configs_then_secrets():
    spec = created("--secret", "source=db-pw,target=/etc/pw", "--config", "app.conf")
    text = service_pretty({"ID": "s1", "Spec": {**spec, "Name": "web"}}, 0.0)
    lines = [line.split() for line in text.splitlines()]
    at = lines.index(["Configs:"])
    assert lines[at:at + 6] == [["Configs:"], ["Target:", "/app.conf"], ["Source:", "app.conf"],
                                ["Secrets:"], ["Target:", "/etc/pw"], ["Source:", "db-pw"]]


OBJ = {"ID": "x1", "Version": {"Index": 3}, "CreatedAt": "2026-11-30T06:00:00.123456789Z",
       "UpdatedAt": "2026-11-30T06:01:00.000000000Z", "Spec": {"Name": "pw", "Labels": {"env": "prod"}}}


def test_secret_inspect_pretty_is_dockers():
    assert data_object_pretty(OBJ, "secret").splitlines() == [
        "ID:          x1", "Name:        pw", "Labels:", " - env=prod", "Driver:      ",
        "Created at:  2026-11-30 06:00:00.123456789 +0000 UTC", "Updated at:  2026-11-30 06:01:00.000000000 +0000 UTC"]


def test_config_inspect_shows_its_data_as_text_pretty_and_base64_in_json():
    obj = {**OBJ, "Spec": {"Name": "c", "Data": b"line 1\nline \x1b[2J"}}
    assert data_object_pretty(obj, "config").splitlines()[-3:] == ["Data:", "line 1", "line \\x1b[2J"]
    assert datacommands.jsonable([obj])[0]["Spec"]["Data"] == "bGluZSAxCmxpbmUgG1sySg=="
    assert pretty.go_time("2026-01-02T03:04:05Z") == "2026-01-02 03:04:05 +0000 UTC"


def test_data_is_read_from_a_file_or_stdin_within_swarms_limit(tmp_path, monkeypatch):
    path = tmp_path / "pw"
    path.write_bytes(b"hunter2")
    assert datacommands.read_data("secret", str(path)) == b"hunter2"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"from stdin\n")))
    assert datacommands.read_data("secret", "-") == b"from stdin\n"
    path.write_bytes(b"x" * limits.SECRET_BYTES)
    with pytest.raises(click.ClickException, match="less than 512000 bytes"):
        datacommands.read_data("secret", str(path))
    with pytest.raises(click.ClickException, match='error reading content from ".*/nope": No such file or directory'):
        datacommands.read_data("secret", str(tmp_path / "nope"))


def test_create_refuses_drivers_with_one_line(tmp_path):
    from actors.cli.config import config
    from actors.cli.secret import secret
    for group, args, message in ((secret, ["create", "--driver", "vault", "a", "-"], "--driver is not supported"),
                                 (config, ["create", "--template-driver", "golang", "a", "-"],
                                  "--template-driver is not supported")):
        with pytest.raises(click.ClickException, match=message):
            group.main(args, obj=tmp_path, standalone_mode=False)
