"""``shoal engine-api``: serve the Docker Engine API on TCP with mutual TLS (as dockerd's ``-H tcp://ADDR:2376
--tlsverify``), stop serving it there, and issue client certificates for DOCKER_CERT_PATH."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
import socket
import time

import click

from actors.cli.client import CliError, load_host
from actors.common import supervisor
from actors.common.hostconfig import HostConfig
from actors.common import certs, tlsfiles

DEFAULT_PORT = 2376  # dockerd's port for TLS
LISTEN_TIMEOUT = 10.0  # the actor looks at host.json every second


def parse_tcp_addr(text: str) -> tuple[str, int]:
    """``IPV4[:PORT]`` -> (addr, port), the port 2376 by default; click.BadParameter when malformed."""
    addr, _, port = text.rpartition(":") if ":" in text else (text, "", str(DEFAULT_PORT))
    try:
        ip = ipaddress.IPv4Address(addr)
        number = int(port)
    except ValueError:
        raise click.BadParameter(f"invalid address {text!r}: use IPV4[:PORT]") from None
    if ip.is_unspecified or not 1 <= number <= 65535:
        raise click.BadParameter(f"invalid address {text!r}: use one IPv4 address the certificate can name, and a port")
    return str(ip), number


def _manager(state_dir: pathlib.Path) -> HostConfig:
    host = load_host(state_dir)
    if not host.is_manager:
        raise CliError("the Engine API is served by managers: this node is a worker")
    return host


def _listening(addr: str, port: int) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=1):
            return True
    except OSError:
        return False


def turn_on(host: HostConfig, addr: str, port: int) -> None:
    """Make the CA (once) and a server certificate for ``addr``, and set ``engine_api_addr`` in host.json:
    the engineapi actor starts (or moves) its listener within a second."""
    tlsfiles.make_server_files(host.state_dir, addr, host.hostname, datetime.datetime.now(datetime.timezone.utc))
    host.engine_api_addr = f"{addr}:{port}"
    host.save()


def wait_listening(state_dir: pathlib.Path, addr: str, port: int) -> None:
    """Wait until the manager's engineapi actor listens on addr:port (CliError after LISTEN_TIMEOUT)."""
    _wait(state_dir, addr, port, listening=True)


def refuse_unbindable(addr: str, port: int) -> None:
    """CliError when this host cannot listen on addr:port (taken, or not one of its addresses)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio binds
        try:
            probe.bind((addr, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {addr}:{port}: {exc.strerror}") from None


def _wait(state_dir: pathlib.Path, addr: str, port: int, listening: bool) -> None:
    """Wait until the manager's engineapi actor listens (or no longer listens) on addr:port; no wait
    when shoald does not run (the setting takes effect when it starts)."""
    if supervisor.daemon_pid(state_dir) is None:
        return
    deadline = time.monotonic() + LISTEN_TIMEOUT
    while _listening(addr, port) != listening:
        if time.monotonic() > deadline:
            raise CliError(f"the Engine API did not {'start' if listening else 'stop'} listening on {addr}:{port} "
                           f"within {LISTEN_TIMEOUT:.0f}s: see {state_dir / 'logs' / 'engineapi.log'}")
        time.sleep(0.1)


@click.group("engine-api")
def engine_api() -> None:
    """Serve the Docker Engine API on TCP with mutual TLS."""


@engine_api.command("enable")
@click.option("--addr", "addr_text", required=True, metavar="IPV4[:PORT]",
              help=f"Address to serve the Engine API on with mutual TLS (port {DEFAULT_PORT} by default).")
@click.pass_obj
def enable(state_dir: pathlib.Path, addr_text: str) -> None:
    """Serve the Engine API on TCP with mutual TLS: makes this manager's Engine API CA (once) and a server
    certificate for the address; clients need a certificate from 'shoal engine-api client-cert'."""
    host = _manager(state_dir)
    addr, port = parse_tcp_addr(addr_text)
    wanted, previous = f"{addr}:{port}", host.engine_api_addr
    if previous != wanted:
        refuse_unbindable(addr, port)
    turn_on(host, addr, port)
    if previous and previous != wanted:
        _wait(state_dir, *parse_tcp_addr(previous), listening=False)
    wait_listening(state_dir, addr, port)
    click.echo(f"The Engine API is served on tcp://{wanted} with mutual TLS (CA: "
               f"{tlsfiles.directory(state_dir) / tlsfiles.CA_CERT}).\n"
               f"Issue a client certificate with: shoal engine-api client-cert --out DIR\n"
               f"Then: DOCKER_CERT_PATH=DIR docker --tlsverify -H tcp://{wanted} info")


@engine_api.command("disable")
@click.pass_obj
def disable(state_dir: pathlib.Path) -> None:
    """Stop serving the Engine API on TCP (the unix socket stays; the CA and the certificates it issued are kept)."""
    host = _manager(state_dir)
    if host.engine_api_addr is None:
        raise CliError("the Engine API is not served on TCP on this node")
    previous, host.engine_api_addr = host.engine_api_addr, None
    host.save()
    _wait(state_dir, *parse_tcp_addr(previous), listening=False)
    click.echo(f"The Engine API is no longer served on tcp://{previous}.")


@engine_api.command("client-cert")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=pathlib.Path),
              help="Directory to write ca.pem, cert.pem and key.pem in (as DOCKER_CERT_PATH expects).")
@click.option("--name", default="client", show_default=True, help="The certificate's common name (who holds it).")
@click.option("--days", type=click.IntRange(min=1), default=certs.CLIENT_DAYS, show_default=True,
              help="Days the certificate is valid.")
@click.pass_obj
def client_cert(state_dir: pathlib.Path, out: pathlib.Path, name: str, days: int) -> None:
    """Issue a client certificate signed by this manager's Engine API CA. Whoever holds it has the
    cluster's admin rights through the Engine API: hand it over as you would the manager's root login."""
    _manager(state_dir)
    try:
        tlsfiles.issue_client_files(state_dir, out, name, days, datetime.datetime.now(datetime.timezone.utc))
    except tlsfiles.TlsFilesError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Wrote {out / 'ca.pem'}, {out / 'cert.pem'} and {out / 'key.pem'} (valid {days} days).")
