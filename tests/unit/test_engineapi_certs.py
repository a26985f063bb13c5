"""The Engine API's certificates (actors/common/certs.py) and their files (tlsfiles.py): validity, names,
key usages, CA constraints, and a real TLS handshake in memory that refuses a client of another CA."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import ssl
import stat

import click
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from actors.cli.engineapi import parse_tcp_addr
from actors.common import certs, tlsfiles
from actors.engineapi.tlsstream import TlsStream

NOW = datetime.datetime(2026, 11, 30, 7, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def ca():
    key = certs.new_key()
    return key, certs.make_ca(key, "test CA", NOW)


def test_the_ca_signs_end_entities_only(ca):
    key, cert = ca
    assert cert.subject == cert.issuer
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.digital_signature
    cert.verify_directly_issued_by(cert)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=certs.CA_DAYS) + certs.BACKDATE


def test_the_server_certificate_names_its_address_and_serves_only(ca):
    ca_key, ca_cert = ca
    cert = certs.make_server_cert(ca_key, ca_cert, certs.new_key(), "127.0.0.1", "box", NOW)
    cert.verify_directly_issued_by(ca_cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["box", "localhost"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.not_valid_before_utc < NOW < cert.not_valid_after_utc
    assert cert.not_valid_after_utc == NOW + datetime.timedelta(days=certs.SERVER_DAYS)


def test_a_non_loopback_server_address_is_named_without_localhost():
    names = certs.server_names("10.1.2.3", "box")
    assert names == [x509.IPAddress(ipaddress.ip_address("10.1.2.3")), x509.DNSName("box")]


def test_an_unspecified_address_cannot_be_named():
    with pytest.raises(ValueError, match="give one address, not 0.0.0.0"):
        certs.server_names("0.0.0.0", "box")


def test_a_client_certificate_is_for_clients_only(ca):
    ca_key, ca_cert = ca
    cert = certs.make_client_cert(ca_key, ca_cert, certs.new_key(), "alice", NOW, days=30)
    cert.verify_directly_issued_by(ca_cert)
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == "alice"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc == NOW + datetime.timedelta(days=30)
    with pytest.raises(ValueError, match="at least one day"):
        certs.make_client_cert(ca_key, ca_cert, certs.new_key(), "alice", NOW, days=0)


def test_pem_round_trips(ca):
    key, cert = ca
    assert certs.load_cert(certs.cert_pem(cert)) == cert
    assert certs.load_key(certs.key_pem(key)).private_numbers() == key.private_numbers()


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """A TLS handshake between the two contexts through memory BIOs; ssl.SSLError when either refuses
    (the server's side ends only once it has checked the client's certificate, in TLS 1.3 too)."""
    pipes = [(ssl.MemoryBIO(), ssl.MemoryBIO()) for _ in range(2)]
    ends = [server.wrap_bio(*pipes[0], server_side=True), client.wrap_bio(*pipes[1], server_hostname="127.0.0.1")]
    done = [False, False]
    for _ in range(20):
        for index, end in enumerate(ends):
            try:
                end.do_handshake()
                done[index] = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            pipes[1 - index][0].write(pipes[index][1].read())
        if all(done):
            return
    raise AssertionError("the handshake did not finish")


def _client_context(cert_dir) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert_dir / "ca.pem"))
    context.load_cert_chain(cert_dir / "cert.pem", cert_dir / "key.pem")
    return context


def test_the_files_are_private_and_the_handshake_needs_this_cas_client(tmp_path):
    state = tmp_path / "state"
    tlsfiles.make_server_files(state, "127.0.0.1", "box", NOW)
    tlsfiles.issue_client_files(state, tmp_path / "alice", "alice", 30, datetime.datetime.now(datetime.timezone.utc))
    for path in [*tlsfiles.directory(state).iterdir(), *(tmp_path / "alice").iterdir()]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(tlsfiles.directory(state)).st_mode) == 0o700
    server = tlsfiles.server_context(state)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    _handshake(server, _client_context(tmp_path / "alice"))  # accepted

    tlsfiles.make_server_files(tmp_path / "other", "127.0.0.1", "box", NOW)
    tlsfiles.issue_client_files(tmp_path / "other", tmp_path / "mallory", "mallory", 30, NOW)
    stranger = ssl.create_default_context(cafile=str(tmp_path / "alice" / "ca.pem"))  # trusts the server...
    stranger.load_cert_chain(tmp_path / "mallory" / "cert.pem", tmp_path / "mallory" / "key.pem")  # ...not its CA's client
    with pytest.raises(ssl.SSLError):
        _handshake(server, stranger)
    anonymous = ssl.create_default_context(cafile=str(tmp_path / "alice" / "ca.pem"))
    with pytest.raises(ssl.SSLError):
        _handshake(server, anonymous)
    old = ssl.create_default_context(cafile=str(tmp_path / "alice" / "ca.pem"))
    old.load_cert_chain(tmp_path / "alice" / "cert.pem", tmp_path / "alice" / "key.pem")
    with pytest.warns(DeprecationWarning):  # as TLS 1.1 itself
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        _handshake(server, old)


def test_a_new_server_certificate_keeps_the_ca_and_client_files_are_never_overwritten(tmp_path):
    tlsfiles.make_server_files(tmp_path, "127.0.0.1", "box", NOW)
    ca_pem = (tlsfiles.directory(tmp_path) / "ca.pem").read_bytes()
    tlsfiles.make_server_files(tmp_path, "127.0.0.2", "box", NOW)
    assert (tlsfiles.directory(tmp_path) / "ca.pem").read_bytes() == ca_pem
    tlsfiles.issue_client_files(tmp_path, tmp_path / "out", "alice", 1, NOW)
    with pytest.raises(tlsfiles.TlsFilesError, match="already exists"):
        tlsfiles.issue_client_files(tmp_path, tmp_path / "out", "alice", 1, NOW)


def test_no_client_certificate_without_a_ca(tmp_path):
    with pytest.raises(tlsfiles.TlsFilesError, match="shoal engine-api enable"):
        tlsfiles.issue_client_files(tmp_path, tmp_path / "out", "alice", 1, NOW)
    assert not (tmp_path / "out").exists()


def test_the_cli_reads_one_ipv4_address_and_a_port():
    assert parse_tcp_addr("127.0.0.1") == ("127.0.0.1", 2376)
    assert parse_tcp_addr("127.0.0.1:3000") == ("127.0.0.1", 3000)
    for text in ("0.0.0.0:2376", "localhost:2376", "127.0.0.1:0", "127.0.0.1:x", "127.0.0.1:70000"):
        with pytest.raises(click.BadParameter):
            parse_tcp_addr(text)


def test_a_tls_stream_serves_this_cas_client_and_tells_another_why_it_is_refused(tmp_path):
    """TlsStream on a real loopback socket: an echo for this CA's client; the alert for a client without a
    certificate (asyncio's own TLS server would close without it)."""
    tlsfiles.make_server_files(tmp_path, "127.0.0.1", "box", NOW)
    tlsfiles.issue_client_files(tmp_path, tmp_path / "alice", "alice", 1, NOW)
    refusals = []

    async def echo(reader, writer):
        stream = TlsStream(tlsfiles.server_context(tmp_path), reader, writer)
        try:
            await stream.handshake()
        except ssl.SSLError as exc:
            refusals.append(exc.reason)
            writer.close()
            return
        stream.write(stream.peer_name().encode() + b":" + await stream.read(100))
        await stream.drain()
        stream.close()

    async def talk(context):
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            writer.write(b"hello")
            answer = await reader.read(100)
            writer.close()
            return answer
        finally:
            server.close()

    assert asyncio.run(talk(_client_context(tmp_path / "alice"))) == b"alice:hello"
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        asyncio.run(talk(ssl.create_default_context(cafile=str(tmp_path / "alice" / "ca.pem"))))
    assert refusals == ["PEER_DID_NOT_RETURN_A_CERTIFICATE"]
