"""Placement constraints: Docker's expression syntax, its error messages, and matching a node."""

import pytest

from actors.common.constraints import Constraint, attribute, matches, parse, parse_one, parse_spread


def node(node_id="n1", hostname="alpha", role="worker", os="linux", arch="x86_64", labels=None, engine=None):
    return {"ID": node_id, "Spec": {"Role": role, "Labels": labels or {}},
            "Description": {"Hostname": hostname, "Platform": {"OS": os, "Architecture": arch},
                            "Engine": {"Labels": engine or {}}}}


# -- parsing ----------------------------------------------------------------

@pytest.mark.parametrize("expression, expected", [
    ("node.role==manager", Constraint("node.role", True, "manager")),
    ("node.role!=manager", Constraint("node.role", False, "manager")),
    ("  node.hostname  ==  alpha ", Constraint("node.hostname", True, "alpha")),
    ("node.labels.zone==eu-west-1", Constraint("node.labels.zone", True, "eu-west-1")),
    ("node.labels.com.example.tier==db", Constraint("node.labels.com.example.tier", True, "db")),
    ("engine.labels.storage!=ssd", Constraint("engine.labels.storage", False, "ssd")),
    ("NODE.ROLE==Manager", Constraint("NODE.ROLE", True, "Manager")),
    ("node.platform.os==linux", Constraint("node.platform.os", True, "linux")),
    ("node.platform.arch==x86_64", Constraint("node.platform.arch", True, "x86_64")),
    ("node.id==abc123", Constraint("node.id", True, "abc123")),
    ("node.labels.path==/srv/data:ro", Constraint("node.labels.path", True, "/srv/data:ro")),
    ("node.labels.x==a b", Constraint("node.labels.x", True, "a b")),
])
def test_well_formed_expressions_parse(expression, expected):
    assert parse_one(expression) == expected


@pytest.mark.parametrize("expression, message", [
    ("node.role=manager", "constraint expected one operator from ==, !="),
    ("node.role", "constraint expected one operator from ==, !="),
    ("", "constraint expected one operator from ==, !="),
    ("node.role>manager", "constraint expected one operator from ==, !="),
    ("==manager", "key '' is invalid"),
    ("x==manager", "key 'x' is invalid"),  # a key has at least two characters, as in Docker
    ("1node.role==manager", "key '1node.role' is invalid"),
    ("node role==manager", "key 'node role' is invalid"),
    ("node.role==", "value '' is invalid"),
    ("node.role==man!ager", "value 'man!ager' is invalid"),
    ("node.role==a==b", "value 'a==b' is invalid"),
    ("node.role==b!=c", "value 'b!=c' is invalid"),  # '==' is tried first, as in Docker
    ("node.role!=b==c", "key 'node.role!=b' is invalid"),
    ("node.role==<x>", "value '<x>' is invalid"),
])
def test_malformed_expressions_are_refused_with_dockers_message(expression, message):
    with pytest.raises(ValueError) as raised:
        parse_one(expression)
    assert str(raised.value) == message


@pytest.mark.parametrize("key", ["node.ip", "node.name", "node.labels.", "engine.labels.", "labels.zone", "node.lab"])
def test_unknown_keys_are_refused_naming_the_known_ones(key):
    with pytest.raises(ValueError) as raised:
        parse_one(f"{key}==x")
    assert str(raised.value).startswith(f"key '{key}' is invalid: use node.id, node.hostname, node.role, ")
    assert "node.labels.<name>, engine.labels.<name>" in str(raised.value)


def test_parse_keeps_order_and_stops_at_the_first_bad_expression():
    assert parse(["node.role==worker", "node.labels.a!=b"]) == [
        Constraint("node.role", True, "worker"), Constraint("node.labels.a", False, "b")]
    assert parse([]) == []
    with pytest.raises(ValueError, match="value '' is invalid"):
        parse(["node.role==worker", "node.labels.a==", "bogus"])


def test_a_constraint_prints_as_written():
    assert str(parse_one(" node.role != manager ")) == "node.role!=manager"


# -- matching ---------------------------------------------------------------

@pytest.mark.parametrize("expression, expected", [
    ("node.id==n1", True), ("node.id==n2", False), ("node.id!=n2", True),
    ("node.hostname==alpha", True), ("node.hostname==ALPHA", True), ("node.hostname!=alpha", False),
    ("node.role==worker", True), ("node.role==manager", False), ("node.role!=manager", True),
    ("node.platform.os==linux", True), ("node.platform.os==Linux", True), ("node.platform.os==windows", False),
    ("node.platform.arch==x86_64", True), ("node.platform.arch!=aarch64", True),
    ("node.labels.zone==eu", True), ("node.labels.zone==EU", True), ("node.labels.zone!=eu", False),
    ("node.labels.Zone==eu", False),  # label names are case-sensitive
    ("NODE.LABELS.zone==eu", True),  # the prefix is not
    ("node.labels.com.example.tier==db", True),
    ("node.labels.missing==x", False), ("node.labels.missing!=x", True),
    ("engine.labels.storage==ssd", True), ("engine.labels.storage!=ssd", False),
    ("engine.labels.zone==eu", False),  # engine and node labels are separate maps
    ("Node.Role==WORKER", True),
])
def test_one_constraint_against_a_node(expression, expected):
    the_node = node(labels={"zone": "eu", "com.example.tier": "db"}, engine={"storage": "ssd"})
    assert matches(parse([expression]), the_node) is expected


def test_every_constraint_must_hold():
    the_node = node(role="manager", labels={"zone": "eu"})
    assert matches(parse(["node.role==manager", "node.labels.zone==eu"]), the_node)
    assert not matches(parse(["node.role==manager", "node.labels.zone==us"]), the_node)
    assert matches([], the_node)


@pytest.mark.parametrize("expression, expected", [
    ("node.hostname==alpha", False), ("node.hostname!=alpha", True),
    ("node.platform.os==linux", False), ("node.platform.os!=linux", True),
    ("node.labels.zone==eu", False), ("node.labels.zone!=eu", True),
    ("engine.labels.zone!=eu", True), ("node.role==worker", False), ("node.id==n9", True),
])
def test_a_node_without_description_or_labels_reads_empty_strings(expression, expected):
    assert matches(parse([expression]), {"ID": "n9", "Spec": {}}) is expected


# -- spread descriptors -----------------------------------------------------

@pytest.mark.parametrize("descriptor, key", [
    ("node.labels.zone", "node.labels.zone"), (" engine.labels.rack ", "engine.labels.rack"),
    ("Node.Labels.Zone", "Node.Labels.Zone")])
def test_a_spread_descriptor_names_a_node_or_engine_label(descriptor, key):
    assert parse_spread(descriptor) == key


@pytest.mark.parametrize("descriptor", ["node.hostname", "node.labels.", "zone", "", "engine.labels"])
def test_other_spread_descriptors_are_refused(descriptor):
    with pytest.raises(ValueError, match=r"invalid spread descriptor '.*': use node.labels.<name> or engine.labels.<name>"):
        parse_spread(descriptor)


@pytest.mark.parametrize("key, expected", [
    ("node.labels.zone", "eu"), ("engine.labels.zone", ""), ("node.hostname", "alpha"), ("node.labels.none", "")])
def test_attribute_reads_what_a_key_names(key, expected):
    assert attribute(key, node(labels={"zone": "eu"})) == expected
