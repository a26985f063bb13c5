"""Certificates of the Engine API's TCP listener with mutual TLS, as dockerd's ``--tlsverify``.

Pure: keys and certificates in, keys and certificates (and PEM) out; the time is an argument. One
certificate authority per manager host signs its server certificate (whose subject alternative names
are the address it listens on) and the client certificates its operator hands to users. Every key is
ECDSA P-256 and every signature ECDSA with SHA-256, which Go's crypto/tls (the docker CLI) and
OpenSSL (Python's ssl, docker-py) both accept.
"""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest a TLS server certificate may live for Apple's and browsers' clients
CLIENT_DAYS = 365
BACKDATE = datetime.timedelta(minutes=5)  # a client whose clock is a little behind still accepts it
ORGANIZATION = "Shoal"

_USAGE = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
              encipher_only=False, decipher_only=False)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key, now: datetime.datetime, days: int) -> x509.CertificateBuilder:
    if days < 1:
        raise ValueError(f"a certificate must be valid for at least one day, not {days}")
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def make_ca(key: ec.EllipticCurvePrivateKey, common_name: str, now: datetime.datetime, days: int = CA_DAYS) -> x509.Certificate:
    """A self-signed CA certificate for ``key``: it may sign end-entity certificates only (path length 0)."""
    builder = _builder(common_name, _name(common_name), key.public_key(), now, days)
    builder = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **_USAGE),
                              critical=True))
    return builder.sign(key, hashes.SHA256())


def _signed_leaf(ca_key, ca_cert: x509.Certificate, public_key, common_name: str, usage, now: datetime.datetime,
                 days: int, alternative_names: list | None = None) -> x509.Certificate:
    builder = _builder(common_name, ca_cert.subject, public_key, now, days)
    builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **_USAGE),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if alternative_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def server_names(addr: str, hostname: str) -> list:
    """The subject alternative names of a server listening on IP address ``addr``: the address, the host's
    name, and ``localhost`` when the address is a loopback one. ValueError when ``addr`` is not one
    address (``0.0.0.0`` would need every address of the host named: give the one clients use)."""
    ip = ipaddress.ip_address(addr)
    if ip.is_unspecified:
        raise ValueError(f"the Engine API's certificate names the address it listens on: give one address, not {addr}")
    names = [x509.IPAddress(ip), x509.DNSName(hostname)]
    return names + [x509.DNSName("localhost")] if ip.is_loopback and hostname != "localhost" else names


def make_server_cert(ca_key, ca_cert: x509.Certificate, key, addr: str, hostname: str, now: datetime.datetime,
                     days: int = SERVER_DAYS) -> x509.Certificate:
    """The server certificate of the listener on ``addr`` (:func:`server_names`), signed by the CA."""
    return _signed_leaf(ca_key, ca_cert, key.public_key(), hostname, ExtendedKeyUsageOID.SERVER_AUTH, now, days,
                        server_names(addr, hostname))


def make_client_cert(ca_key, ca_cert: x509.Certificate, key, common_name: str, now: datetime.datetime,
                     days: int = CLIENT_DAYS) -> x509.Certificate:
    """A client certificate named ``common_name``, signed by the CA: whoever holds it and its key may use
    the Engine API over TCP."""
    return _signed_leaf(ca_key, ca_cert, key.public_key(), common_name, ExtendedKeyUsageOID.CLIENT_AUTH, now, days)


def cert_pem(cert: x509.Certificate) -> bytes:
    """``cert`` in PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """``key`` unencrypted in PKCS#8 PEM (the files are 0600, as Docker's ``key.pem``)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def load_cert(data: bytes) -> x509.Certificate:
    """A certificate from PEM."""
    return x509.load_pem_x509_certificate(data)


def load_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """A private key from unencrypted PEM."""
    return serialization.load_pem_private_key(data, password=None)
