"""Secrets and configs in the control API (actors/controlapi/secrets.py) and the model: what create accepts,
what reads show, references in a service spec, removal refusals and the rotation proposal. Sealing uses a
key made here (the data key's life is actors/common/datakey.py's)."""

import pytest

from actors.common import sealing
from actors.controlapi import secrets
from actors.controlapi.secrets import CONFIG, SECRET
from transport import limits, model, schema
from transport.rpc import RpcError

KEY = sealing.new_key()
DATA = b"canary-s3cr3t-value"


def secret(object_id="sec1", name="db-password", labels=None, version=7):
    obj = secrets.new_object(SECRET, object_id, {"Name": name, "Labels": labels or {}}, DATA, "k1", KEY)
    return {**obj, "Version": {"Index": version}, "CreatedAt": schema.format_time(1.0), "UpdatedAt": schema.format_time(2.0)}


def config(object_id="cfg1", name="nginx.conf"):
    return {**secrets.new_object(CONFIG, object_id, {"Name": name, "Labels": {}}, b"worker_processes 1;", "k1", KEY),
            "Version": {"Index": 3}}


def service(name, secret_refs=(), config_refs=(), mode=None, service_id=None, version=11):
    container = {"Image": "busybox", "Secrets": [dict(ref) for ref in secret_refs],
                 "Configs": [dict(ref) for ref in config_refs]}
    return {"ID": service_id or f"id-{name}", "Version": {"Index": version}, "SpecVersion": {"Index": 2},
            "Spec": {"Name": name, "Mode": mode or {"Replicated": {"Replicas": 1}},
                     "TaskTemplate": {"ContainerSpec": container, "ForceUpdate": 4}}}


def ref(name=None, target=None, secret_id=None, kind=SECRET):
    entry = {"File": {"Name": target or name}}
    if name:
        entry[kind.name_key] = name
    if secret_id:
        entry[kind.id_key] = secret_id
    return entry


def refused(code, match, call, *args):
    with pytest.raises(RpcError) as raised:
        call(*args)
    assert raised.value.code == code and match in raised.value.message, raised.value.message
    assert "\n" not in raised.value.message and DATA.decode() not in raised.value.message
    return raised.value.message


# -- the objects ----------------------------------------------------------------

def test_a_secret_is_stored_sealed_and_opens_only_as_itself():
    obj = secret()
    model.check_object("secrets", obj)
    assert obj["Spec"] == {"Name": "db-password", "Labels": {}} and DATA not in obj["Sealed"]["Ciphertext"]
    assert obj["Sealed"]["KeyID"] == "k1"
    assert sealing.unseal(KEY, b"sec1", obj["Sealed"]) == DATA
    with pytest.raises(sealing.SealError):  # copied onto another secret, it does not open
        sealing.unseal(KEY, b"sec2", obj["Sealed"])


def test_a_config_keeps_its_data_in_its_spec():
    obj = config()
    model.check_object("configs", obj)
    assert obj["Spec"]["Data"] == b"worker_processes 1;"


@pytest.mark.parametrize("table, obj, problem", [
    ("secrets", {"ID": "s", "Spec": {"Name": "x"}}, "Sealed: is required"),
    ("secrets", {**secret(), "Spec": {"Name": "x", "Driver": {"Name": "vault"}}}, "unknown field 'Driver'"),
    ("configs", {"ID": "c", "Spec": {"Name": "x", "Data": "text"}}, "Spec.Data: must be bytes, not a string"),
    ("configs", {"ID": "c", "Spec": {"Name": "x", "Data": b"x" * (limits.SECRET_BYTES + 1)}}, "more than the limit"),
    ("services", service("web", [{"File": {"Name": "x", "Mode": 0o1777}, "SecretName": "x"}]), "Mode: 1023 is out of range"),
    ("services", service("web", [{"SecretName": "x"}]), "Secrets[0].File: is required"),
])
def test_the_model_refuses_malformed_ones(table, obj, problem):
    with pytest.raises(model.Invalid, match=problem.replace("[", r"\[").replace("]", r"\]")):
        model.check_object(table, obj)


@pytest.mark.parametrize("data, match", [(b"", "larger than 0 and less than 512000 bytes (it has 0)"),
                                         (b"x" * limits.SECRET_BYTES, "(it has 512000)"),
                                         ("text", "secret data must be bytes"), (None, "secret data must be bytes")])
def test_data_must_be_bytes_under_swarms_limit(data, match):
    refused("invalid", match, secrets.checked_data, SECRET, data)
    assert secrets.checked_data(SECRET, b"x" * (limits.SECRET_BYTES - 1))


def test_a_refused_value_is_described_never_quoted():
    message = refused("invalid", "must be bytes", secrets.checked_data, SECRET, DATA.decode())
    assert "canary" not in message


@pytest.mark.parametrize("kind, spec, match", [
    (SECRET, {"Name": "-bad"}, "invalid secret name '-bad'"),
    (SECRET, {"Name": "a" * 64}, "(at most 63)"),
    (SECRET, "name", "a secret spec must be a map"),
    (SECRET, {"Name": "ok", "Labels": {"k": 1}}, "Labels.k: must be a string"),
    (CONFIG, {"Name": "ok", "Templating": {"Name": "golang"}}, "config templating is not supported"),
    (CONFIG, {"Name": "ok", "Data": b"x"}, "unknown field 'Data'"),
])
def test_bad_specs_are_refused(kind, spec, match):
    refused("invalid", match, secrets.checked_spec, kind, spec)


def test_a_spec_gets_empty_labels():
    assert secrets.checked_spec(CONFIG, {"Name": "app.conf"}) == {"Name": "app.conf", "Labels": {}}


def test_a_taken_name_is_a_conflict():
    refused("name_conflict", "secret db-password already exists", secrets.name_taken, SECRET, {"sec1": secret()},
            "db-password")
    secrets.name_taken(SECRET, {"sec1": secret()}, "other")


# -- reads ----------------------------------------------------------------------

def test_reads_show_dockers_fields_never_the_sealed_data():
    shown = secrets.shown(secret())
    assert set(shown) == {"ID", "Version", "CreatedAt", "UpdatedAt", "Spec"}


def test_ls_filters_by_name_prefix_id_prefix_and_label_and_sorts_by_name():
    table = {o["ID"]: o for o in (secret("a1", "web-key", {"env": "prod"}), secret("b2", "db-key", {"env": "dev"}),
                                  secret("c3", "web-cert"))}
    names = lambda wanted: [o["Spec"]["Name"] for o in secrets.listed(table, wanted)]  # noqa: E731
    assert names(None) == ["db-key", "web-cert", "web-key"]
    assert names({"name": ["web"]}) == ["web-cert", "web-key"]
    assert names({"id": ["b"]}) == ["db-key"]
    assert names({"label": ["env=prod"]}) == ["web-key"]
    assert names({"label": ["env"], "name": ["db", "web-k"]}) == ["db-key", "web-key"]
    assert all("Sealed" not in o for o in secrets.listed(table, None))
    refused("invalid", "invalid filter 'colour'", secrets.listed, table, {"colour": ["red"]})
    refused("invalid", "filters must map", secrets.listed, table, {"name": "web"})


# -- references from services -----------------------------------------------------

TABLES = {"secrets": {"sec1": secret(), "sec2": secret("sec2", "api-token")}, "configs": {"cfg1": config()}}


def with_refs(secret_refs=(), config_refs=()):
    return service("web", secret_refs, config_refs)["Spec"]


def test_references_by_name_get_the_id_and_dockers_file_defaults():
    spec = secrets.resolved_references(with_refs([ref("db-password")], [ref("nginx.conf", "/etc/nginx.conf", kind=CONFIG)]),
                                       TABLES)
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Secrets"] == [{"File": {"Name": "db-password", "UID": "0", "GID": "0", "Mode": 0o444},
                                     "SecretID": "sec1", "SecretName": "db-password"}]
    assert container["Configs"][0]["ConfigID"] == "cfg1" and container["Configs"][0]["File"]["Name"] == "/etc/nginx.conf"
    model.service_spec(spec, "spec")


def test_a_reference_by_id_gets_the_current_name_and_keeps_its_file():
    entry = {"File": {"Name": "pw", "UID": "33", "GID": "33", "Mode": 0o400}, "SecretID": "sec2"}
    spec = secrets.resolved_references(with_refs([entry]), TABLES)
    assert spec["TaskTemplate"]["ContainerSpec"]["Secrets"] == [{**entry, "SecretName": "api-token"}]


@pytest.mark.parametrize("secret_refs, config_refs, code, match", [
    ([ref("nope")], [], "not_found", "secret not found: nope"),
    ([ref(secret_id="gone", target="x")], [], "not_found", "secret not found: gone"),
    ([], [ref("missing.conf", kind=CONFIG)], "not_found", "config not found: missing.conf"),
    ([{"File": {"Name": "x"}}], [], "invalid", "a secret reference needs SecretID or SecretName"),
    ([ref("db-password", "../../etc/shadow")], [], "invalid", "it must not contain '..'"),
    ([ref("db-password", "pw"), ref("api-token", "/run/secrets/pw")], [], "invalid",
     "secret references 'db-password' and 'api-token' have a conflicting target: '/run/secrets/pw'"),
    ([], [ref("nginx.conf", "a", kind=CONFIG), ref("nginx.conf", "/a", kind=CONFIG)], "invalid", "conflicting target"),
    # the engine refused every task's start ("Duplicate mount point: /etc/x") of a service that was accepted
    ([ref("db-password", "/etc/x")], [ref("nginx.conf", "/etc/x", kind=CONFIG)], "invalid",
     "secret 'db-password' and config 'nginx.conf' have a conflicting target: '/etc/x'"),
])
def test_bad_references_are_refused(secret_refs, config_refs, code, match):
    refused(code, match, secrets.resolved_references, with_refs(secret_refs, config_refs), TABLES)


def test_a_secret_and_a_config_may_share_a_file_name():
    secrets.resolved_references(with_refs([ref("db-password", "x")], [ref("nginx.conf", "x", kind=CONFIG)]), TABLES)


def test_rm_is_refused_while_a_service_references_it_in_dockers_words():
    used = {"sec1": secret()}
    one = {"w": service("web", [ref("db-password", secret_id="sec1")])}
    assert secrets.removal_refusal(SECRET, used["sec1"], one) == \
        "secret 'db-password' is in use by the following service: web"
    two = {**one, "a": service("api", [ref("db-password", secret_id="sec1")])}
    assert secrets.removal_refusal(SECRET, used["sec1"], two) == \
        "secret 'db-password' is in use by the following services: api, web"
    assert secrets.removal_refusal(SECRET, used["sec1"], {"o": service("other", [ref("x", secret_id="sec2")])}) is None
    assert secrets.removal_refusal(CONFIG, config(), {"w": service("web", config_refs=[ref("n", secret_id="cfg1", kind=CONFIG)])}) \
        == "config 'nginx.conf' is in use by the following service: web"


# -- rotation -------------------------------------------------------------------

def test_rotation_is_one_proposal_replacing_the_value_and_rolling_each_service_using_it():
    current = secret()
    services = {s["ID"]: s for s in (
        service("web", [ref("db-password", secret_id="sec1")], version=20),
        service("api", [ref("db-password", "/etc/pw", secret_id="sec1")], version=21),
        service("batch", [ref("db-password", secret_id="sec1")], mode={"ReplicatedJob": {}}),
        service("other", [ref("api-token", secret_id="sec2")]))}
    new = secrets.sealed("sec1", b"new value", "k1", KEY)
    ops, rolled = secrets.rotation_ops(current, new, services)
    assert rolled == ["api", "web"]  # not the job, not a service of another secret
    assert ops[0] == {"op": "patch", "table": "secrets", "id": "sec1", "version": 7, "set": {"Sealed": new}}
    patched = {op["id"]: op for op in ops[1:]}
    assert set(patched) == {"id-web", "id-api"}
    assert patched["id-web"]["version"] == 20 and patched["id-api"]["version"] == 21
    changes = patched["id-web"]["set"]
    assert changes["Spec"]["TaskTemplate"]["ForceUpdate"] == 5 and changes["SpecVersion"] == {"Index": 3}
    assert changes["PreviousSpec"]["TaskTemplate"]["ForceUpdate"] == 4 and changes["UpdateStatus"] is None
    assert sealing.unseal(KEY, b"sec1", ops[0]["set"]["Sealed"]) == b"new value"


def test_a_rotation_that_would_not_fit_one_proposal_is_refused(monkeypatch):
    services = {f"id-{n}": service(f"web{n}", [ref("db-password", secret_id="sec1")], service_id=f"id-{n}")
                for n in range(3)}
    monkeypatch.setattr(limits, "BATCH_OPS", 3)
    refused("refused", "rotating secret db-password would rewrite 3 services", secrets.rotation_ops, secret(),
            secrets.sealed("sec1", b"v", "k1", KEY), services)
