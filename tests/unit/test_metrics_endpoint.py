"""The metrics endpoint (actors/common/metricsserver.py) with Prometheus's web configuration
(actors/common/webconfig.py): plain HTTP, TLS with a certificate the client pins, basic auth with bcrypt
hashes, further JSON routes; refusals of web configs that ask what it does not do. Real sockets on loopback;
the discovery document of actors/controlapi/discovery.py and the update-paused gauge of
actors/controlapi/updatemetrics.py from store objects."""

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import urllib.error
import urllib.request

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actors.common import metricsserver, webconfig
from actors.controlapi import discovery


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed(directory):
    """A key and a certificate for 127.0.0.1 in ``directory``: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shoal-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory / "cert.pem", directory / "key.pem"


def get(url, context=None, user=None):
    """(status, body) of a GET of ``url``."""
    request = urllib.request.Request(url)
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(user).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_plain_endpoint_serves_metrics_and_routes_and_404_elsewhere():
    port, routes = free_port(), {}
    server = metricsserver.serve("127.0.0.1", port, webconfig.PLAIN, routes)
    try:
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and b"process_cpu_seconds_total" in body
        assert get(f"http://127.0.0.1:{port}/discovery")[0] == 404
        routes["/discovery"] = lambda: b"[]"
        assert get(f"http://127.0.0.1:{port}/discovery") == (200, b"[]")
        routes["/discovery"] = lambda: 1 / 0
        assert get(f"http://127.0.0.1:{port}/discovery")[0] == 503
    finally:
        server.shutdown()
        server.server_close()


def test_tls_and_basic_auth_from_a_prometheus_web_config(tmp_path):
    cert, key = self_signed(tmp_path)
    hashed = bcrypt.hashpw(b"s9-secret", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "web.yml").write_text(f"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                                      f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    config = webconfig.load(tmp_path / "web.yml")
    assert config.scheme == "https" and config.cert_file == str(cert)
    port = free_port()
    server = metricsserver.serve("127.0.0.1", port, config, {})
    try:
        pinned = ssl.create_default_context(cafile=str(cert))
        assert get(f"https://127.0.0.1:{port}/metrics", pinned)[0] == 401
        assert get(f"https://127.0.0.1:{port}/metrics", pinned, ("prometheus", "wrong"))[0] == 401
        assert get(f"https://127.0.0.1:{port}/metrics", pinned, ("nobody", "s9-secret"))[0] == 401
        for _ in range(2):  # the second from the cache of accepted credentials
            assert get(f"https://127.0.0.1:{port}/metrics", pinned, ("prometheus", "s9-secret"))[0] == 200
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP is not answered
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
        with pytest.raises(urllib.error.URLError):  # a client that does not trust the certificate
            urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", timeout=5, context=ssl.create_default_context())
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("text, refusal", [
    ("web_server_config: {}\n", "web_server_config not supported"),
    ("tls_server_config:\n  cert_file: c.pem\n", "needs cert_file and key_file"),
    ("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  cipher_suites: [x]\n", "cipher_suites not supported"),
    ("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAnyClientCert\n",
     "client_auth_type RequireAnyClientCert not supported"),
    ("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
     "needs client_ca_file"),
    ("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n", "is not a file"),
    ("basic_auth_users:\n  alice: plaintext-password\n", "the password of user alice is not a bcrypt hash"),
    ("- a list\n", "expected a mapping"),
])
def test_web_configs_asking_what_the_endpoint_does_not_do_are_refused_in_one_line(tmp_path, text, refusal):
    (tmp_path / "web.yml").write_text(text)
    with pytest.raises(webconfig.WebConfigError) as caught:
        webconfig.load(tmp_path / "web.yml")
    assert refusal in str(caught.value) and "\n" not in str(caught.value)
    assert "plaintext-password" not in str(caught.value)


def node(node_id, role, port, metrics=None, hostname="h"):
    return {"ID": node_id, "Spec": {"Role": role}, "Description": {"Hostname": hostname},
            "Shoal": {"Endpoints": {"addr": "10.0.0.9", "port": port}, **({"Metrics": metrics} if metrics else {})}}


def test_discovery_lists_every_actor_of_every_host_at_its_metrics_address_and_port():
    groups = json.loads(discovery.document([
        node("w1", "worker", 2477, {"addr": "192.0.2.7", "scheme": "https"}, "worker-host"),
        node("m1", "manager", 2377)]))
    managers = [group for group in groups if group["labels"]["node"] == "m1"]
    assert [(group["labels"]["actor"], group["targets"]) for group in managers] == [
        ("raft", ["127.0.0.1:2387"]), ("controlapi", ["127.0.0.1:2388"]), ("orchestrator", ["127.0.0.1:2389"]),
        ("allocator", ["127.0.0.1:2390"]), ("scheduler", ["127.0.0.1:2391"]), ("dispatcher", ["127.0.0.1:2392"]),
        ("executor", ["127.0.0.1:2393"]), ("engineapi", ["127.0.0.1:2394"]), ("shoald", ["127.0.0.1:2398"])]
    assert groups[-2] == {"targets": ["192.0.2.7:2493"], "labels": {
        "node": "w1", "hostname": "worker-host", "role": "worker", "__scheme__": "https", "actor": "executor"}}


@pytest.mark.parametrize("addr, text, refusal", [
    ("0.0.0.0", None, "--metrics-addr must be an address Prometheus can reach this host on, not 0.0.0.0"),
    ("not an address!", None, "--metrics-addr"),
    ("192.0.2.1", None, "cannot listen on 192.0.2.1:"),
    ("127.0.0.1", "basic_auth_users: {alice: plaintext-password}\n",
     "--metrics-web-config: web config: the password of user alice is not a bcrypt hash"),
])
def test_init_and_join_refuse_metrics_options_they_cannot_apply(tmp_path, addr, text, refusal):
    from actors.cli.client import CliError
    from actors.cli.swarm import metrics_settings
    path = None
    if text is not None:
        path = tmp_path / "web.yml"
        path.write_text(text)
    with pytest.raises(CliError) as caught:
        metrics_settings(addr, path, free_port())
    assert refusal in str(caught.value)


def test_metrics_settings_give_host_json_the_files_absolute_path_and_the_node_its_scheme(tmp_path):
    from actors.cli.swarm import metrics_settings
    self_signed(tmp_path)
    (tmp_path / "web.yml").write_text("tls_server_config: {cert_file: cert.pem, key_file: key.pem}\n")
    from tests.integration.cluster import free_base_port
    assert metrics_settings("127.0.0.1", tmp_path / "web.yml", free_base_port()) == (
        str(tmp_path / "web.yml"), {"addr": "127.0.0.1", "scheme": "https"})


def test_update_paused_gauge_is_one_for_paused_updates_and_rollbacks_and_zero_for_every_other_service():
    from actors.controlapi import updatemetrics

    def service(name, state=None):
        return {"Spec": {"Name": name}, **({"UpdateStatus": {"State": state}} if state else {})}
    assert updatemetrics.paused_by_service([service("a"), service("b", "paused"), service("c", "rollback_paused"),
                                            service("d", "updating"), service("e", "rollback_completed")]) == {
        "a": 0, "b": 1, "c": 1, "d": 0, "e": 0}
    collector = updatemetrics.UpdatePausedCollector(lambda: {"web": 1})
    [family] = collector.collect()
    assert [(sample.labels, sample.value) for sample in family.samples] == [({"service": "web"}, 1)]
    assert list(updatemetrics.UpdatePausedCollector(lambda: 1 / 0).collect())[0].samples == []
