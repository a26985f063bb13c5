"""A task's engine create arguments from its spec (no IO)."""

from actors.executor import options

NODE = {"ID": "node1", "Description": {"Hostname": "host-a"}}


def task(spec=None, resources=None, ports=(), grace=None):
    container_spec = {"Image": "img", **(spec or {})}
    if grace is not None:
        container_spec["StopGracePeriod"] = grace
    the_task = {"ID": "t1", "ServiceID": "s1", "Slot": 2, "ServiceAnnotations": {"Name": "web"},
                "Spec": {"ContainerSpec": container_spec}, "Endpoint": {"Ports": list(ports)}}
    if resources is not None:
        the_task["Spec"]["Resources"] = resources
    return the_task


def test_a_bare_spec_asks_only_for_the_image_and_dockers_stop_grace():
    arguments = options.create_arguments(task(), NODE)
    assert arguments.container == {"image": "img", "tty": False, "stdin_open": False, "stop_timeout": 10}
    assert arguments.host_config == {}


def test_command_is_the_entrypoint_and_args_its_arguments():
    arguments = options.create_arguments(task({"Command": ["sh", "-c"], "Args": ["echo hi"]}), NODE)
    assert arguments.container["entrypoint"] == ["sh", "-c"] and arguments.container["command"] == ["echo hi"]


def test_process_options_map_to_the_container_config():
    spec = {"User": "1000:1000", "Dir": "/work", "Hostname": "{{.Service.Name}}-{{.Task.Slot}}", "TTY": True,
            "OpenStdin": True, "Env": ["WHERE={{.Node.Hostname}}", "PLAIN=1"], "StopSignal": "SIGUSR1",
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000, "Retries": 2}}
    container = options.create_arguments(task(spec, grace=3_000_000_000), NODE).container
    assert container["user"] == "1000:1000" and container["working_dir"] == "/work"
    assert container["hostname"] == "web-2" and container["tty"] and container["stdin_open"]
    assert container["environment"] == ["WHERE=host-a", "PLAIN=1"]
    assert container["stop_signal"] == "SIGUSR1" and container["stop_timeout"] == 3
    assert container["healthcheck"] == spec["Healthcheck"]


def test_host_options_map_to_the_host_config():
    spec = {"ReadOnly": True, "Init": True, "Groups": ["audio"], "CapabilityAdd": ["NET_ADMIN"],
            "CapabilityDrop": ["CHOWN"], "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
            "DNSConfig": {"Nameservers": ["10.0.0.2"], "Search": ["example.org"], "Options": ["ndots:2"]},
            "Hosts": ["10.1.2.3 db", "10.1.2.4 cache cache.local", "10.9.9.9"]}
    host_config = options.create_arguments(task(spec), NODE).host_config
    assert host_config == {"read_only": True, "init": True, "group_add": ["audio"], "cap_add": ["NET_ADMIN"],
                           "cap_drop": ["CHOWN"], "ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
                           "dns": ["10.0.0.2"], "dns_search": ["example.org"], "dns_opt": ["ndots:2"],
                           "extra_hosts": ["db:10.1.2.3", "cache:10.1.2.4", "cache.local:10.1.2.4"]}


def test_init_false_is_passed_on_and_unset_is_left_to_the_engine():
    assert options.create_arguments(task({"Init": False}), NODE).host_config == {"init": False}
    assert "init" not in options.create_arguments(task({"Init": None}), NODE).host_config


def test_limits_and_the_memory_reservation_apply_a_cpu_reservation_only_places():
    resources = {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 << 20, "Pids": 50},
                 "Reservations": {"NanoCPUs": 250_000_000, "MemoryBytes": 32 << 20}}
    assert options.create_arguments(task(resources=resources), NODE).host_config == {
        "nano_cpus": 500_000_000, "mem_limit": 64 << 20, "pids_limit": 50, "mem_reservation": 32 << 20}


def test_mounts_go_as_they_are_with_templates_expanded():
    mounts = [{"Type": "bind", "Source": "/srv/{{.Service.Name}}", "Target": "/data", "ReadOnly": True,
               "BindOptions": {"Propagation": "rslave"}},
              {"Type": "volume", "Source": "vol-{{.Task.Slot}}", "Target": "/v",
               "VolumeOptions": {"NoCopy": True, "Labels": {"slot": "{{.Task.Slot}}"},
                                 "DriverConfig": {"Name": "local", "Options": {"o": "{{.Node.ID}}"}}}},
              {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}}]
    the_task = task({"Mounts": mounts})
    passed = options.create_arguments(the_task, NODE).host_config["mounts"]
    assert passed[0] == dict(mounts[0], Source="/srv/web")
    assert passed[1]["Source"] == "vol-2" and passed[1]["VolumeOptions"] == {
        "NoCopy": True, "Labels": {"slot": "2"}, "DriverConfig": {"Name": "local", "Options": {"o": "node1"}}}
    assert passed[2] == mounts[2]
    assert the_task["Spec"]["ContainerSpec"]["Mounts"][0]["Source"] == "/srv/{{.Service.Name}}"  # spec untouched


def test_host_mode_ports_are_bound_and_exposed_once_each_without_a_doubled_protocol():
    ports = [{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"},
             {"TargetPort": 53, "Protocol": "udp", "PublishMode": "host"},
             {"TargetPort": 443, "PublishedPort": 443, "PublishMode": "ingress"}]
    arguments = options.create_arguments(task(ports=ports), NODE)
    assert arguments.host_config["port_bindings"] == {"80/tcp": 8080, "53/udp": None}
    assert arguments.container["ports"] == [(80, "tcp"), (53, "udp")]


def test_docker_py_exposes_the_ports_as_the_engine_expects():
    from docker.types import ContainerConfig
    config = ContainerConfig("1.41", "img", None, ports=options.exposed_ports(
        task(ports=[{"TargetPort": 80, "PublishMode": "host"}])))
    assert config["ExposedPorts"] == {"80/tcp": {}}


def attachment(network_id, name, address):
    return {"Network": {"ID": network_id, "Spec": {"Name": name}}, "Addresses": [address], "Aliases": []}


def network_state(*named):
    return {"Networks": [{"ID": network_id, "Name": name, "Ingress": name == "ingress", "NodeAddress": node_address}
                         for network_id, name, node_address in named], "Services": []}


def test_a_task_on_networks_joins_the_first_at_create_with_its_address_and_derived_mac_and_the_rest_after():
    the_task = task()
    the_task["NetworksAttachments"] = [attachment("backid0123456789", "back", "10.0.1.5/24"),
                                       attachment("ingressid0123456", "ingress", "10.0.0.7/24")]
    state = network_state(("backid0123456789", "back", "10.0.1.3/24"), ("ingressid0123456", "ingress", "10.0.0.3/24"))
    arguments = options.create_arguments(the_task, NODE, state, ["192.0.2.53", "127.0.0.53"])
    assert arguments.container["networking_config"] == {
        "EndpointsConfig": {"back-backid012345": {"IPAMConfig": {"IPv4Address": "10.0.1.5"}}}}
    assert arguments.container["mac_address"] == "02:42:0a:00:01:05"
    assert arguments.host_config == {"network_mode": "back-backid012345", "dns": ["10.0.1.3", "192.0.2.53"]}
    assert arguments.networks == (("ingress-ingressid012", "10.0.0.7"),)


def test_the_specs_nameservers_follow_the_hosts_server_and_a_task_on_no_network_keeps_the_default_bridge():
    the_task = task({"DNSConfig": {"Nameservers": ["192.0.2.1"]}})
    assert options.create_arguments(the_task, NODE, network_state(), ["192.0.2.53"]).host_config == {
        "dns": ["192.0.2.1"]}
    the_task["NetworksAttachments"] = [attachment("backid0123456789", "back", "10.0.1.5/24")]
    arguments = options.create_arguments(the_task, NODE, network_state(("backid0123456789", "back", "10.0.1.3/24")),
                                         ["192.0.2.53"])
    assert arguments.host_config["dns"] == ["10.0.1.3", "192.0.2.1"]
