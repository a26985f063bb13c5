"""service create/update flags -> ServiceSpec fields, parsed by the real click commands (no cluster)."""

import sys

import click
import pytest

from actors.cli import flagvalues as fv
from actors.cli import servicespec, specflags
from actors.cli.main import run
from transport import model
from transport.schema import get_path

CT = "TaskTemplate.ContainerSpec."


def params(command, args):
    return dict(command.make_context(command.name, list(args)).params)


def created(*args):
    """The spec ``service create ARGS img`` would send."""
    values = params(servicespec.create, [*args, "img"])
    for key in ("name", "detach", "quiet", "timeout"):
        values.pop(key)
    return specflags.create_spec("web", values.pop("image"), list(values.pop("args")), values.pop("mode"),
                                 values.pop("replicas"), values.pop("max_concurrent"), values)


def updated(spec, *args):
    """``spec`` after ``service update ARGS web``."""
    values = params(servicespec.update, [*args, "web"])
    for key in ("ref", "detach", "quiet", "timeout", "rollback", "step", "next_step", "resume"):
        values.pop(key)
    return specflags.updated_spec(spec, values, values.pop("replicas"), values.pop("max_concurrent"), values.pop("force"))


@pytest.mark.parametrize("args, path, value", [
    (["--entrypoint", "sh -c"], CT + "Command", ["sh", "-c"]),
    (["-u", "1000:1000"], CT + "User", "1000:1000"),
    (["--workdir", "/srv"], CT + "Dir", "/srv"),
    (["--hostname", "{{.Service.Name}}-{{.Task.Slot}}"], CT + "Hostname", "{{.Service.Name}}-{{.Task.Slot}}"),
    (["--stop-signal", "SIGINT"], CT + "StopSignal", "SIGINT"),
    (["--stop-grace-period", "30s"], CT + "StopGracePeriod", 30_000_000_000),
    (["--init"], CT + "Init", True),
    (["--init=false"], CT + "Init", False),
    (["--read-only"], CT + "ReadOnly", True),
    (["-t"], CT + "TTY", True),
    (["--health-cmd", "wget -q -O- localhost"], CT + "Healthcheck.Test", ["CMD-SHELL", "wget -q -O- localhost"]),
    (["--health-interval", "10s"], CT + "Healthcheck.Interval", 10_000_000_000),
    (["--health-timeout", "2s"], CT + "Healthcheck.Timeout", 2_000_000_000),
    (["--health-retries", "3"], CT + "Healthcheck.Retries", 3),
    (["--health-start-period", "1m"], CT + "Healthcheck.StartPeriod", 60_000_000_000),
    (["--health-start-interval", "500ms"], CT + "Healthcheck.StartInterval", 500_000_000),
    (["--no-healthcheck"], CT + "Healthcheck", {"Test": ["NONE"]}),
    (["--limit-cpu", "0.5"], "TaskTemplate.Resources.Limits.NanoCPUs", 500_000_000),
    (["--limit-memory", "64M"], "TaskTemplate.Resources.Limits.MemoryBytes", 64 << 20),
    (["--limit-pids", "100"], "TaskTemplate.Resources.Limits.Pids", 100),
    (["--reserve-cpu", "2"], "TaskTemplate.Resources.Reservations.NanoCPUs", 2_000_000_000),
    (["--reserve-memory", "1g"], "TaskTemplate.Resources.Reservations.MemoryBytes", 1 << 30),
    (["--replicas-max-per-node", "2"], "TaskTemplate.Placement.MaxReplicas", 2),
    (["--constraint", "node.labels.zone==a", "--constraint", "node.role!=manager"], "TaskTemplate.Placement.Constraints",
     ["node.labels.zone==a", "node.role!=manager"]),
    (["--placement-pref", "spread=node.labels.zone"], "TaskTemplate.Placement.Preferences",
     [{"Spread": {"SpreadDescriptor": "node.labels.zone"}}]),
    (["--restart-condition", "on-failure"], "TaskTemplate.RestartPolicy.Condition", "on-failure"),
    (["--restart-delay", "1s"], "TaskTemplate.RestartPolicy.Delay", 1_000_000_000),
    (["--restart-max-attempts", "4"], "TaskTemplate.RestartPolicy.MaxAttempts", 4),
    (["--restart-window", "10s"], "TaskTemplate.RestartPolicy.Window", 10_000_000_000),
    (["--update-parallelism", "0"], "UpdateConfig.Parallelism", 0),
    (["--update-delay", "10s"], "UpdateConfig.Delay", 10_000_000_000),
    (["--update-failure-action", "rollback"], "UpdateConfig.FailureAction", "rollback"),
    (["--update-monitor", "1s"], "UpdateConfig.Monitor", 1_000_000_000),
    (["--update-max-failure-ratio", "0.25"], "UpdateConfig.MaxFailureRatio", 0.25),
    (["--update-order", "start-first"], "UpdateConfig.Order", "start-first"),
    (["--rollback-parallelism", "2"], "RollbackConfig.Parallelism", 2),
    (["--rollback-delay", "1s"], "RollbackConfig.Delay", 1_000_000_000),
    (["--rollback-failure-action", "continue"], "RollbackConfig.FailureAction", "continue"),
    (["--rollback-monitor", "2s"], "RollbackConfig.Monitor", 2_000_000_000),
    (["--rollback-max-failure-ratio", "1"], "RollbackConfig.MaxFailureRatio", 1.0),
    (["--rollback-order", "start-first"], "RollbackConfig.Order", "start-first"),
    (["--rebalance=false"], "Shoal.Rebalance", False),
    (["-e", "A=1", "--env", "B=2"], CT + "Env", ["A=1", "B=2"]),
    (["-l", "team=core"], "Labels", {"team": "core"}),
    (["--container-label", "k=v"], CT + "Labels", {"k": "v"}),
    (["--mount", "type=bind,source=/a,target=/b,readonly"], CT + "Mounts",
     [{"Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True}]),
    (["--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777"], CT + "Mounts",
     [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}}]),
    (["--mount", "source=data,target=/d,volume-nocopy"], CT + "Mounts",
     [{"Type": "volume", "Source": "data", "Target": "/d", "VolumeOptions": {"NoCopy": True}}]),
    (["--group", "audio"], CT + "Groups", ["audio"]),
    (["--cap-add", "NET_ADMIN"], CT + "CapabilityAdd", ["NET_ADMIN"]),
    (["--cap-drop", "CHOWN"], CT + "CapabilityDrop", ["CHOWN"]),
    (["--ulimit", "nofile=1024:2048"], CT + "Ulimits", [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]),
    (["--dns", "1.2.3.4"], CT + "DNSConfig.Nameservers", ["1.2.3.4"]),
    (["--dns-option", "ndots:2"], CT + "DNSConfig.Options", ["ndots:2"]),
    (["--dns-search", "example.org"], CT + "DNSConfig.Search", ["example.org"]),
    (["--host", "db:10.0.0.2"], CT + "Hosts", ["10.0.0.2 db"]),
    (["--publish", "mode=host,target=80,published=8080"], "EndpointSpec.Ports",
     [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]),
    (["-p", "8080:80/udp"], "EndpointSpec.Ports",
     [{"Protocol": "udp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]),
])
def test_every_create_flag_sets_its_spec_field(args, path, value):
    spec = created(*args)
    assert get_path(spec, path) == value
    model.service_spec(spec, "spec")  # what the CLI sends is a valid spec of the object model


def test_create_has_dockers_defaults():
    spec = created()
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    assert spec["UpdateConfig"] == spec["RollbackConfig"] == {
        "Parallelism": 1, "Delay": 0, "FailureAction": "pause", "Monitor": 5_000_000_000, "MaxFailureRatio": 0,
        "Order": "stop-first"}
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "any", "Delay": 5_000_000_000, "MaxAttempts": 0}
    assert "Shoal" not in spec  # Rebalance unset means on


@pytest.mark.parametrize("args, mode", [
    (["--mode", "global"], {"Global": {}}),
    (["--mode", "global-job"], {"GlobalJob": {}}),
    (["--mode", "replicated-job", "--replicas", "5", "--max-concurrent", "2"],
     {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 5}}),
    (["--mode", "replicated-job"], {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}),
    (["--replicas", "0"], {"Replicated": {"Replicas": 0}}),
])
def test_modes(args, mode):
    spec = created(*args)
    assert spec["Mode"] == mode
    if "Job" in next(iter(mode)):
        assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "on-failure"


def test_bare_boolean_flag_never_takes_the_image_as_its_value():
    values = params(servicespec.create, ["--init", "img", "--read-only"])
    assert values["init"] == "true" and values["image"] == "img" and values["args"] == ("--read-only",)


def test_env_file(tmp_path, monkeypatch):
    env = tmp_path / "env"
    env.write_text("# comment\n\nA=1\nFROM_HOST\nUNSET_ONE\n")
    monkeypatch.setenv("FROM_HOST", "yes")
    monkeypatch.delenv("UNSET_ONE", raising=False)
    assert created("--env-file", str(env), "-e", "B=2")["TaskTemplate"]["ContainerSpec"]["Env"] == [
        "A=1", "FROM_HOST=yes", "B=2"]


SPEC = created("-e", "A=1", "-e", "B=2", "-l", "a=1", "--container-label", "c=1", "--constraint", "node.role==worker",
               "--placement-pref", "spread=node.labels.zone", "-p", "mode=host,target=80,published=8080",
               "--mount", "type=tmpfs,target=/t", "--group", "audio", "--dns", "1.1.1.1", "--dns-option", "ndots:1",
               "--dns-search", "a.org", "--host", "db:10.0.0.2", "--ulimit", "nofile=10:20", "--cap-add", "NET_ADMIN",
               "--replicas", "2")


@pytest.mark.parametrize("args, path, value", [
    (["--image", "img:2"], CT + "Image", "img:2"),
    (["--args", "sleep 'a b'"], CT + "Args", ["sleep", "a b"]),
    (["--env-add", "A=9", "--env-rm", "B"], CT + "Env", ["A=9"]),
    (["--label-add", "b=2", "--label-rm", "a"], "Labels", {"b": "2"}),
    (["--container-label-rm", "c"], CT + "Labels", {}),
    (["--constraint-rm", "node.role==worker", "--constraint-add", "node.labels.zone==a"],
     "TaskTemplate.Placement.Constraints", ["node.labels.zone==a"]),
    (["--placement-pref-rm", "spread=node.labels.zone"], "TaskTemplate.Placement.Preferences", []),
    (["--publish-rm", "80"], "EndpointSpec.Ports", []),
    (["--publish-add", "mode=host,target=80,published=9090"], "EndpointSpec.Ports",
     [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 9090, "PublishMode": "host"}]),
    (["--mount-rm", "/t", "--mount-add", "type=bind,source=/a,target=/b"], CT + "Mounts",
     [{"Type": "bind", "Source": "/a", "Target": "/b"}]),
    (["--group-rm", "audio", "--group-add", "video"], CT + "Groups", ["video"]),
    (["--dns-rm", "1.1.1.1", "--dns-add", "9.9.9.9"], CT + "DNSConfig.Nameservers", ["9.9.9.9"]),
    (["--dns-option-rm", "ndots:1"], CT + "DNSConfig.Options", []),
    (["--dns-search-add", "b.org"], CT + "DNSConfig.Search", ["a.org", "b.org"]),
    (["--host-rm", "db"], CT + "Hosts", []),
    (["--host-rm", "db:10.0.0.2", "--host-add", "cache:10.0.0.3"], CT + "Hosts", ["10.0.0.3 cache"]),
    (["--ulimit-rm", "nofile"], CT + "Ulimits", []),
    (["--ulimit-add", "nofile=30:40"], CT + "Ulimits", [{"Name": "nofile", "Soft": 30, "Hard": 40}]),
    (["--cap-drop", "NET_ADMIN"], CT + "CapabilityAdd", []),
    (["--replicas", "7"], "Mode.Replicated.Replicas", 7),
    (["--force"], "TaskTemplate.ForceUpdate", 1),
    (["--limit-memory", "32M"], "TaskTemplate.Resources.Limits.MemoryBytes", 32 << 20),
    (["--update-parallelism", "2", "--update-delay", "1s"], "UpdateConfig.Parallelism", 2),
    (["--rebalance=true"], "Shoal.Rebalance", True),
    (["--init=false"], CT + "Init", False),
])
def test_update_flags_change_the_spec_read_from_the_cluster(args, path, value):
    spec = updated(SPEC, *args)
    assert get_path(spec, path) == value
    model.service_spec(spec, "spec")


def test_update_keeps_what_no_flag_names_and_leaves_its_input_alone():
    before = repr(SPEC)
    spec = updated(SPEC, "--image", "img:2")
    assert repr(SPEC) == before
    assert {k: v for k, v in spec.items() if k != "TaskTemplate"} == {k: v for k, v in SPEC.items() if k != "TaskTemplate"}
    assert spec["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1", "B=2"]


@pytest.mark.parametrize("args, message", [
    (["--limit-memory", "lots"], 'invalid argument "lots" for "--limit-memory" flag'),
    (["--limit-cpu", "-1"], 'for "--limit-cpu" flag: use a positive number of CPUs'),
    (["--update-delay", "5"], 'invalid argument "5" for "--update-delay" flag'),
    (["--update-failure-action", "explode"], "use pause or continue or rollback"),
    (["--rollback-failure-action", "rollback"], "use pause or continue"),
    (["--update-max-failure-ratio", "2"], "between 0 and 1"),
    (["--update-order", "random"], "use start-first or stop-first"),
    (["--health-retries", "x"], "whole number"),
    (["--mount", "type=bind,target=/b"], "source is required when specifying bind mounts"),
    (["--mount", "type=nfs,target=/b"], "invalid mount type 'nfs'"),
    (["--mount", "source=/a"], "target is required"),
    (["--mount", "type=tmpfs,target=/t,volume-nocopy"], "cannot mix 'volume-*' options"),
    (["--mount", "target=/t,colour=red"], "unexpected key 'colour'"),
    (["--ulimit", "nofile"], "NAME=SOFT[:HARD]"),
    (["--ulimit", "nofile=20:10"], "soft limit 20 is above hard limit 10"),
    (["--host", "db"], "use HOST:IP"),
    (["--placement-pref", "pack=node.labels.zone"], "the only strategy is spread"),
    (["-p", "mode=host,published=80"], "missing target port"),
    (["-p", "target=80,mode=bridge"], "invalid mode 'bridge'"),
    (["-p", "target=80,protocol=icmp"], "invalid protocol 'icmp'"),
    (["--init=maybe"], "use true or false"),
    (["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts with --health-* options"),
    (["--mode", "global", "--replicas", "2"], "replicas can only be used with replicated or replicated-job mode"),
    (["--max-concurrent", "2"], "max-concurrent can only be used with replicated-job mode"),
    (["-e", "=x"], 'for "--env" flag: use KEY=VALUE'),
    (["--env-file", "/nonexistent/env"], "cannot read /nonexistent/env"),
    (["--network", "name=a,driver-opt=x=y"], "unexpected key 'driver-opt'"),
    (["--network", "alias=a"], "missing network name"),
    (["--network", ""], "use NAME"),
    (["--endpoint-mode", "ipvs"], "use vip or dnsrr"),
])
def test_bad_create_values_are_one_line_usage_errors(args, message):
    with pytest.raises(click.UsageError) as raised:
        created(*args)
    assert message in raised.value.format_message() and "\n" not in raised.value.format_message()


@pytest.mark.parametrize("flag, why", [("--log-driver", "default driver"),
                                       ("--sysctl", "container spec"),
                                       ("--generic-resource", "CPU, memory")])
def test_docker_flags_shoal_lacks_are_refused_not_ignored(flag, why):
    with pytest.raises(click.UsageError) as raised:
        params(servicespec.create, [flag, "x", "img"])
    assert f"{flag} is not supported: " in raised.value.format_message() and why in raised.value.format_message()


@pytest.mark.parametrize("args", [["--sysctl-add", "x"], ["--sysctl-rm", "x"], ["--with-registry-auth"],
                                  ["--log-opt", "a=b"]])
def test_update_refuses_them_too(args):
    with pytest.raises(click.UsageError, match="is not supported"):
        params(servicespec.update, [*args, "web"])


def test_networks_are_attached_by_name_with_aliases_and_the_endpoint_mode_is_set():
    spec = created("--network", "front", "--network", "name=back,alias=db,alias=store", "--endpoint-mode", "dnsrr")
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "front", "Aliases": []},
                                                {"Target": "back", "Aliases": ["db", "store"]}]
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    model.service_spec(spec, "spec")


def test_network_add_and_rm_change_the_attachments_by_target():
    spec = created("--network", "n1", "--network", "n2")
    spec = updated(spec, "--network-rm", "n1", "--network-add", "name=n3,alias=x", "--endpoint-mode", "vip")
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "n2", "Aliases": []}, {"Target": "n3", "Aliases": ["x"]}]
    assert spec["EndpointSpec"]["Mode"] == "vip"


def test_replicas_of_a_global_service_cannot_be_updated():
    with pytest.raises(click.UsageError, match="replicas can only be used"):
        updated(created("--mode", "global"), "--replicas", "2")


@pytest.mark.parametrize("args, message", [
    (["service", "update", "--resume", "--image", "x", "web"], "--resume cannot be combined with other changes"),
    (["service", "update", "--rollback", "--continue", "web"], "cannot be combined"),
    (["service", "create", "--limit-memory", "1x", "img"], 'invalid argument "1x" for "--limit-memory" flag'),
])
def test_refusals_before_any_call_are_one_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["shoal", "--state-dir", str(tmp_path), *args])
    with pytest.raises(SystemExit) as exited:
        run()
    err = capsys.readouterr().err
    assert exited.value.code != 0 and err.count("\n") == 1 and message in err


@pytest.mark.parametrize("text, nanos", [("0.5", 500_000_000), ("1", 1_000_000_000), ("0.001", 1_000_000)])
def test_cpus(text, nanos):
    assert fv.nano_cpus(text) == nanos


@pytest.mark.parametrize("text, count", [("64M", 64 << 20), ("64MiB", 64 << 20), ("512k", 512 << 10), ("1024", 1024),
                                         ("1.5g", 3 << 29), ("2GB", 2 << 30)])
def test_memory(text, count):
    assert fv.memory_bytes(text) == count


def test_publish_rm_names_a_target_port_and_protocol():
    assert fv.published_key("80") == (80, "tcp") and fv.published_key("53/udp") == (53, "udp")
    assert fv.published_key("mode=host,target=81,published=9") == (81, "tcp")


def test_an_unknown_flag_is_named_as_docker_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["shoal", "--state-dir", str(tmp_path), "service", "update", "--mode", "global", "web"])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "Error: unknown flag: --mode (see 'shoal service update --help')\n"
