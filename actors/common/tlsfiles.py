"""The Engine API's TLS files in a manager's state directory, and the server's TLS context.

``keys/engine-api/`` (0700) holds ``ca.pem`` and ``ca-key.pem`` (this host's Engine API CA),
``server-cert.pem`` and ``server-key.pem`` (the listener's), every file 0600. Client certificates are
written where the operator asks, as ``DOCKER_CERT_PATH`` expects them: ``ca.pem``, ``cert.pem``, ``key.pem``.
"""

from __future__ import annotations

import datetime
import pathlib
import ssl

from actors.common import certs
from transport.keys import write_private

DIRECTORY = ("keys", "engine-api")
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
SERVER_CERT, SERVER_KEY = "server-cert.pem", "server-key.pem"
CLIENT_FILES = ("ca.pem", "cert.pem", "key.pem")


class TlsFilesError(Exception):
    """A one-line reason the TLS files cannot be made or used."""


def directory(state_dir: pathlib.Path) -> pathlib.Path:
    """Where the Engine API's CA and server files live."""
    return pathlib.Path(state_dir).joinpath(*DIRECTORY)


def _ca(state_dir: pathlib.Path, now: datetime.datetime, hostname: str, create: bool):
    """The CA's (key, certificate); made and written when absent and ``create``, else TlsFilesError."""
    where = directory(state_dir)
    try:
        return certs.load_key((where / CA_KEY).read_bytes()), certs.load_cert((where / CA_CERT).read_bytes())
    except FileNotFoundError:
        if not create:
            raise TlsFilesError("the Engine API has no CA on this host: run 'shoal engine-api enable --addr ADDR:PORT' first") from None
    key = certs.new_key()
    cert = certs.make_ca(key, f"Shoal Engine API CA of {hostname}", now)
    write_private(where / CA_KEY, certs.key_pem(key))
    write_private(where / CA_CERT, certs.cert_pem(cert))
    return key, cert


def make_server_files(state_dir: pathlib.Path, addr: str, hostname: str, now: datetime.datetime) -> None:
    """Make the CA if there is none, and a new server certificate and key for IP address ``addr``
    (certs.server_names; ValueError for an address a certificate cannot name)."""
    ca_key, ca_cert = _ca(state_dir, now, hostname, create=True)
    key = certs.new_key()
    cert = certs.make_server_cert(ca_key, ca_cert, key, addr, hostname, now)
    write_private(directory(state_dir) / SERVER_KEY, certs.key_pem(key))
    write_private(directory(state_dir) / SERVER_CERT, certs.cert_pem(cert))


def issue_client_files(state_dir: pathlib.Path, out: pathlib.Path, common_name: str, days: int,
                       now: datetime.datetime) -> None:
    """Write ``ca.pem``, ``cert.pem`` and ``key.pem`` (0600, in ``out``, made 0700 when absent): a new client
    certificate named ``common_name`` for ``days`` days, signed by this host's CA. TlsFilesError when
    there is no CA or ``out`` already holds one of the files (never overwritten)."""
    taken = [name for name in CLIENT_FILES if (out / name).exists()]
    if taken:
        raise TlsFilesError(f"{out / taken[0]} already exists: give an empty directory")
    ca_key, ca_cert = _ca(state_dir, now, "", create=False)
    key = certs.new_key()
    cert = certs.make_client_cert(ca_key, ca_cert, key, common_name, now, days)
    write_private(out / "key.pem", certs.key_pem(key))
    write_private(out / "cert.pem", certs.cert_pem(cert))
    write_private(out / "ca.pem", certs.cert_pem(ca_cert))


def server_context(state_dir: pathlib.Path) -> ssl.SSLContext:
    """The listener's TLS context: TLS 1.2 or later, its server certificate, and a client certificate signed
    by this host's CA required in the handshake (a client without one is refused there)."""
    where = directory(state_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_cert_chain(where / SERVER_CERT, where / SERVER_KEY)
        context.load_verify_locations(cafile=where / CA_CERT)
    except (OSError, ssl.SSLError) as exc:
        raise TlsFilesError(f"cannot load the Engine API's TLS files in {where}: {exc}") from None
    return context
