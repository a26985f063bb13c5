"""The Engine API's pure parts: versions, routes, and the translation of Docker's JSON (actors/engineapi)."""

import json

import pytest

from actors.engineapi import routes, translate, versions
from actors.engineapi.translate import EngineError

HOST = translate.HostFacts(hostname="h1", kernel="6.1", operating_system="Debian", architecture="x86_64",
                           cpus=2, memory_bytes=2 ** 30, server_version="0.1.0-shoal")


def refused(status, match, call, *args):
    with pytest.raises(EngineError) as raised:
        call(*args)
    assert raised.value.status == status and match in raised.value.message, raised.value.message
    assert "\n" not in raised.value.message


# -- versions and routes ---------------------------------------------------------------------------

def test_a_version_prefix_is_split_off_and_no_prefix_means_the_newest():
    assert versions.split("/v1.40/services/web") == ("1.40", "/services/web")
    assert versions.split("/info") == (versions.API_VERSION, "/info")


def test_versions_out_of_range_get_dockerds_refusals():
    assert versions.refusal("1.50") == "client version 1.50 is too new. Maximum supported API version is 1.41"
    assert versions.refusal("1.12").startswith("client version 1.12 is too old. Minimum supported API version is 1.24")
    assert versions.refusal("1.24") is None and versions.refusal("1.41") is None
    assert versions.at_least("1.41", "1.41") and not versions.at_least("1.40", "1.41")


def test_routes_name_the_endpoint_and_its_parameters():
    assert routes.match("GET", "/services/web") == ("service_inspect", {"id": "web"})
    assert routes.match("POST", "/services/web/update") == ("service_update", {"id": "web"})
    assert routes.match("POST", "/services/create") == ("service_create", {})
    assert routes.match("DELETE", "/networks/n1") == ("network_delete", {"id": "n1"})
    assert routes.match("GET", "/_ping") == ("ping", {})


def test_container_calls_are_unserved_and_unknown_paths_not_found():
    assert routes.match("POST", "/containers/create") == ("unserved", {"path": "/containers/create"})
    assert routes.match("GET", "/containers/json") == ("unserved", {"path": "/containers/json"})
    assert routes.match("GET", "/images/json") == ("unserved", {"path": "/images/json"})
    assert routes.match("GET", "/volumes") == ("unserved", {"path": "/volumes"})
    assert routes.match("GET", "/services/web/logs") == ("service_logs", {"id": "web"})
    assert routes.match("GET", "/tasks/t1/logs") == ("task_logs", {"id": "t1"})
    assert routes.match("POST", "/services/web/logs") == ("unserved", {"path": "/services/web/logs"})
    assert routes.match("GET", "/nonsense") == (None, {})


# -- errors, bodies, filters -----------------------------------------------------------------------

def test_control_api_codes_become_dockerds_statuses():
    assert translate.error_of("not_found", "no such service: x").status == 404
    assert translate.error_of("name_conflict", "taken").status == 409
    assert translate.error_of("invalid", "bad").status == 400
    assert translate.error_of("no_leader", "none").status == 503
    assert translate.error_of("something_new", "?").status == 500


def test_a_body_that_is_not_json_is_refused_with_the_reason():
    refused(400, "invalid JSON", translate.json_body, b"{nope")
    refused(400, "must be an object", translate.json_object, b"[1]")
    assert translate.json_object(b"") == {}


def test_filters_in_both_of_dockers_forms():
    query = {"filters": json.dumps({"name": {"web": True, "db": False}, "id": ["ab"]})}
    assert translate.filters_of(query, ("name", "id")) == {"name": ["web"], "id": ["ab"]}
    assert translate.filters_of({}, ("name",)) == {}
    refused(400, "invalid filter 'colour'", translate.filters_of, {"filters": '{"colour": ["red"]}'}, ("name",))
    refused(400, "invalid filter", translate.filters_of, {"filters": "{"}, ("name",))


def test_query_booleans_and_integers_as_dockerd_reads_them():
    assert translate.query_bool({"force": "1"}, "force") and translate.query_bool({"force": "true"}, "force")
    assert not translate.query_bool({"force": "0"}, "force") and not translate.query_bool({}, "force")
    assert translate.query_int({"version": "12"}, "version") == 12 and translate.query_int({}, "version") is None
    refused(400, "invalid version", translate.query_int, {"version": "x"}, "version")


# -- services --------------------------------------------------------------------------------------

def test_members_are_read_as_go_reads_them_whatever_their_case_and_nulls_dropped():
    spec = {"Name": "web", "mode": {"replicated": {"Replicas": 2}}, "Labels": {"mode": "x", "keep": None},
            "TaskTemplate": {"ContainerSpec": {"Image": "i", "Args": None}}}
    assert translate.go_decoded(spec) == {"Name": "web", "Mode": {"Replicated": {"Replicas": 2}},
                                          "Labels": {"mode": "x", "keep": None},
                                          "TaskTemplate": {"ContainerSpec": {"Image": "i"}}}


def test_fields_shoal_does_not_model_are_dropped_when_they_ask_for_nothing():
    spec = {"Name": "web", "TaskTemplate": {"Runtime": "container", "ContainerSpec": {"Image": "i", "Isolation": "default"}}}
    assert translate.service_spec_in(spec) == {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "i"}}}


def test_fields_shoal_does_not_model_are_refused_when_they_ask_for_something():
    refused(400, "TaskTemplate.Runtime is not supported by Shoal", translate.service_spec_in,
            {"Name": "web", "TaskTemplate": {"Runtime": "plugin"}})
    refused(400, "TaskTemplate.ContainerSpec.Isolation", translate.service_spec_in,
            {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Isolation": "hyperv"}}})
    refused(400, "must be an object", translate.service_spec_in, ["web"])


def test_a_service_listed_with_status_shows_its_task_counts():
    service = {"ID": "s1", "Spec": {"Name": "web"}}
    shown = translate.service_out(service, {"service": service, "running": 1, "desired": 3})
    assert shown["ServiceStatus"] == {"RunningTasks": 1, "DesiredTasks": 3, "CompletedTasks": 0}
    assert translate.service_out(service) is service


def test_up_to_date_tasks_run_the_current_spec_version():
    services = {"s1": {"ID": "s1", "SpecVersion": {"Index": 4}}}
    assert translate.up_to_date({"ServiceID": "s1", "SpecVersion": {"Index": 4}}, services)
    assert not translate.up_to_date({"ServiceID": "s1", "SpecVersion": {"Index": 3}}, services)
    assert not translate.up_to_date({"ServiceID": "gone", "SpecVersion": {"Index": 4}}, services)


# -- nodes, versions of objects --------------------------------------------------------------------

def test_a_node_spec_becomes_a_node_update_and_a_rename_is_refused():
    node = {"ID": "n1", "Spec": {"Role": "worker", "Availability": "active"}}
    body = translate.node_update_body(node, {"Role": "worker", "Availability": "drain", "Labels": {"a": "b"}})
    assert body == {"ref": "n1", "availability": "drain", "labels": {"a": "b"}, "role": "worker"}
    refused(400, "node names are not supported", translate.node_update_body, node, {"Name": "other"})


def test_an_update_from_a_stale_version_is_out_of_sequence():
    translate.check_version({"Version": {"Index": 7}}, 7)
    refused(500, "update out of sequence", translate.check_version, {"Version": {"Index": 7}}, 6)
    refused(400, "version parameter is required", translate.check_version, {"Version": {"Index": 7}}, None)


# -- networks --------------------------------------------------------------------------------------

def test_a_network_create_request_becomes_a_spec():
    body = {"Name": "back", "Driver": "overlay", "Labels": {"a": "b"}, "Internal": True, "CheckDuplicate": True,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.1"}]}}
    assert translate.network_spec_in(body) == {
        "Name": "back", "Labels": {"a": "b"}, "DriverConfiguration": {"Name": "overlay", "Options": {}},
        "IPAMOptions": {"Driver": {"Name": "default"}, "Configs": [{"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.1"}]},
        "Attachable": False, "Internal": True, "Ingress": False}
    # the docker CLI's default driver goes on to the control API, which refuses it in its own words
    assert translate.network_spec_in({"Name": "x", "Driver": "bridge"})["DriverConfiguration"]["Name"] == "bridge"


def test_what_overlay_networks_cannot_do_is_refused():
    refused(400, "IPv6", translate.network_spec_in, {"Name": "x", "EnableIPv6": True})
    refused(400, "scope 'local'", translate.network_spec_in, {"Name": "x", "Scope": "local"})
    refused(400, "config-only", translate.network_spec_in, {"Name": "x", "ConfigOnly": True})
    refused(400, "auxiliary", translate.network_spec_in,
            {"Name": "x", "IPAM": {"Config": [{"Subnet": "10.5.0.0/24", "AuxiliaryAddresses": {"a": "10.5.0.9"}}]}})


def test_a_network_is_shown_as_a_swarm_scoped_docker_network():
    network = {"ID": "n1", "CreatedAt": "2026-01-01T00:00:00.000000000Z", "Spec": {"Name": "back", "Labels": {}},
               "DriverState": {"Name": "overlay", "Options": {"com.docker.network.driver.overlay.vxlanid_list": "4097"}},
               "IPAMOptions": {"Configs": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]}, "Services": {}}
    shown = translate.network_out(network)
    assert shown["Id"] == "n1" and shown["Scope"] == "swarm" and shown["Driver"] == "overlay"
    assert shown["IPAM"]["Config"] == [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]
    assert shown["Options"] == {"com.docker.network.driver.overlay.vxlanid_list": "4097"} and shown["Services"] == {}


# -- swarm, info, version --------------------------------------------------------------------------

CLUSTER = {"ID": "c1", "Version": {"Index": 3}, "Spec": {"Name": "default"}, "JoinTokens": {"Worker": "W", "Manager": "M"},
           "Shoal": {"AdminKeys": ["k"]}}


def test_the_swarm_shows_dockers_fields_and_not_shoals_own():
    shown = translate.swarm_out(CLUSTER)
    assert shown["ID"] == "c1" and shown["JoinTokens"] == {"Worker": "W", "Manager": "M"} and "Shoal" not in shown


def test_info_has_the_swarm_section_the_docker_cli_reads():
    info = {"cluster": CLUSTER, "nodes": 2, "managers": 1, "node_id": "n1"}
    nodes = [{"ID": "n1", "Spec": {"Role": "manager"}, "ManagerStatus": {"Addr": "127.0.0.1:2377"}},
             {"ID": "n2", "Spec": {"Role": "worker"}}]
    shown = translate.info_out(info, nodes, HOST, "127.0.0.1")
    swarm = shown["Swarm"]
    assert (swarm["NodeID"], swarm["LocalNodeState"], swarm["ControlAvailable"]) == ("n1", "active", True)
    assert swarm["RemoteManagers"] == [{"NodeID": "n1", "Addr": "127.0.0.1:2377"}]
    assert (swarm["Nodes"], swarm["Managers"], swarm["Cluster"]["ID"]) == (2, 1, "c1")
    assert "JoinTokens" not in swarm["Cluster"] and shown["Name"] == "h1" and shown["NCPU"] == 2


def test_version_says_the_api_versions_served_and_the_architecture_as_go_names_it():
    shown = translate.version_out(HOST)
    assert (shown["ApiVersion"], shown["MinAPIVersion"], shown["Arch"]) == ("1.41", "1.24", "amd64")
    assert shown["Components"][0]["Details"]["ApiVersion"] == "1.41"


# -- secrets and configs ---------------------------------------------------------------------------

def test_a_secret_create_request_becomes_the_control_apis_body_with_the_data_decoded():
    body = {"Name": "pw", "Labels": {"a": "b"}, "Data": "c2VjcmV0"}
    assert translate.object_create_body("secret", body) == {"spec": {"Name": "pw", "Labels": {"a": "b"}}, "data": b"secret"}
    with_templating = translate.object_create_body("config", {"Name": "c", "Data": "eA==", "Templating": {"Name": "golang"}})
    assert with_templating["spec"]["Templating"] == {"Name": "golang"}  # for the control API to refuse


def test_data_that_is_not_base64_and_secret_drivers_are_refused_without_quoting_the_data():
    refused(400, "invalid secret Data: it must be base64", translate.object_create_body, "secret", {"Name": "pw", "Data": "s3cr3t!"})
    with pytest.raises(EngineError) as raised:
        translate.object_create_body("secret", {"Name": "pw", "Data": "s3cr3t!"})
    assert "s3cr3t" not in raised.value.message
    refused(400, "secret drivers are not supported", translate.object_create_body, "secret",
            {"Name": "pw", "Data": "eA==", "Driver": {"Name": "vault"}})


def test_an_engine_objects_inspect_finds_none():
    assert routes.match("GET", "/containers/web/json") == ("no_such_object", {"kind": "container", "id": "web"})
    assert routes.match("GET", "/images/registry/app:1/json") == ("no_such_object", {"kind": "image", "id": "registry/app:1"})
    assert routes.match("GET", "/volumes/data") == ("no_such_object", {"kind": "volume", "id": "data"})


def test_secret_and_config_routes():
    assert routes.match("POST", "/secrets/create") == ("secret_create", {})
    assert routes.match("GET", "/configs/c1") == ("config_inspect", {"id": "c1"})
    assert routes.match("POST", "/secrets/s1/update") == ("secret_update", {"id": "s1"})


def test_a_secret_update_gives_the_data_only_when_the_request_does():
    assert translate.object_update_body("secret", "s1", 4, {"Name": "pw", "Labels": {"a": "b"}}) == {
        "ref": "s1", "version": 4, "spec": {"Name": "pw", "Labels": {"a": "b"}}, "data": None}
    assert translate.object_update_body("secret", "s1", 4, {"Name": "pw", "Data": "eA=="})["data"] == b"x"
