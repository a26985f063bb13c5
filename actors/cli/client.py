"""How the CLI reaches its cluster: the host's state directory says where and with which key."""

from __future__ import annotations

import pathlib

import click
import zmq

from actors.common.hostconfig import LOCKED_MESSAGE, HostConfig, NotInitialised
from transport import keys, sockets
from transport.limits import STORE_BYTES
from transport.codec import CodecError
from transport.rpccall import RpcError, RpcTimeout, call_blocking

TIMEOUT = 5.0
NOT_A_MANAGER = ('this node is not a swarm manager. Use "shoal swarm init" or "shoal swarm join" '
                 "to connect this node to swarm and try again")


class CliError(click.ClickException):
    """A one-line error: printed as ``Error: ...`` with exit code 1."""


class Refused(CliError):
    """The server's answer refusing one request (not found, in use, invalid): a command given several refs
    goes on with the others, as Docker's do."""


def each(refs, ask) -> tuple[list, Refused | None]:
    """``ask(ref)`` for each of ``refs`` in turn, as Docker's commands taking several refs: the answers of
    those that worked, and the last refusal (None if there was none) for the caller to raise once it has
    shown the answers; earlier refusals are printed as they come (``Error: ...`` on stderr). Any other
    error (the cluster unreachable) stops at once."""
    answers, refusal = [], None
    for ref in refs:
        try:
            answers.append(ask(ref))
        except Refused as exc:
            if refusal:
                click.echo(f"Error: {refusal.format_message()}", err=True)
            refusal = exc
    return answers, refusal


def load_host(state_dir: pathlib.Path) -> HostConfig:
    """The host in ``state_dir``, or CliError saying this node is in no swarm."""
    try:
        return HostConfig.load(state_dir)
    except NotInitialised:
        raise CliError(NOT_A_MANAGER) from None


def _call(endpoint: str, keypair: keys.KeyPair, server_key: bytes, kind: str, body, timeout: float):
    context = zmq.Context()
    try:
        sock = sockets.client_socket(context, zmq.DEALER, endpoint, keypair, server_key)
        return call_blocking(sock, endpoint, kind, body, timeout, max_bytes=STORE_BYTES)
    finally:
        context.destroy(linger=0)


def call_endpoint(endpoint: str, keypair: keys.KeyPair, server_key: bytes, kind: str, body=None,
                  timeout: float = TIMEOUT, what: str = "the cluster"):
    """One request to ``endpoint``; RpcError becomes a CliError with the server's message. A streamed
    reply (a list) may add up to STORE_BYTES; ``timeout`` bounds the wait for each of its parts."""
    try:
        return _call(endpoint, keypair, server_key, kind, body or {}, timeout)
    except RpcTimeout:
        addr = endpoint.removeprefix("tcp://")
        raise CliError(f"cannot reach {what} at {addr} (no answer within {timeout:g}s): is shoald running?") from None
    except RpcError as exc:
        raise Refused(exc.message) from None
    except CodecError as exc:
        raise CliError(f"cannot send this request: {exc}") from None


def signing_keys(host: HostConfig) -> keys.KeyPair:
    """The key pair the CLI of manager ``host`` signs with: the admin key, or, on a manager that joined or
    was promoted (it has none), the host key."""
    try:
        return host.admin_keys()
    except FileNotFoundError:
        return host.host_keys()


class ControlClient:
    """Calls the control API of the host's manager with the admin key (or, lacking one, the host key).
    A locked manager (autolock, not yet unlocked) refuses with Docker's message before any call."""

    def __init__(self, state_dir: pathlib.Path):
        self.host = load_host(state_dir)
        if not self.host.is_manager:
            raise CliError(NOT_A_MANAGER)
        if self.host.is_locked:
            raise CliError(LOCKED_MESSAGE)
        self._admin = signing_keys(self.host)
        self._manager = self.host.local_manager()

    def call(self, kind: str, body=None, timeout: float = TIMEOUT):
        """Send ``kind`` with ``body``; returns the reply or raises CliError."""
        return call_endpoint(self._manager.endpoint("control"), self._admin, self._manager.public_key.encode(),
                             kind, body, timeout)

    def service_ps(self, ref: str) -> dict:
        """The service ``ref`` and its tasks: ``{"service", "tasks", "hostnames": {node id: hostname},
        "down_nodes": [node id]}``, put together from the control API's streamed reply."""
        reply = {"service": None, "tasks": [], "hostnames": {}, "down_nodes": []}
        for item in self.call("service_ps", {"ref": ref}):
            if "service" in item:
                reply["service"] = item["service"]
            elif "task" in item:
                reply["tasks"].append(item["task"])
            else:
                reply["hostnames"][item["node"]] = item["hostname"]
                if item["down"]:
                    reply["down_nodes"].append(item["node"])
        return reply

    def node_ps(self, refs: list[str]) -> dict:
        """The tasks on the nodes ``refs`` name: ``{"tasks", "hostnames": {node id: hostname},
        "services": {service id: name}}``, put together from the control API's streamed reply."""
        reply = {"tasks": [], "hostnames": {}, "services": {}}
        for item in self.call("node_ps", {"refs": refs}):
            if "task" in item:
                reply["tasks"].append(item["task"])
            elif "service" in item:
                reply["services"][item["service"]] = item["name"]
            else:
                reply["hostnames"][item["node"]] = item["hostname"]
        return reply


def remove_each(state_dir: pathlib.Path, kind: str, refs) -> None:
    """``service rm``, ``network rm``, ``secret rm``, ``config rm``: ask ``kind`` (``{"ref"}``) for each of
    ``refs`` in turn, printing each one removed; then the refusals, if any (exit 1), as Docker's."""
    client = ControlClient(state_dir)

    def remove(ref: str) -> None:
        client.call(kind, {"ref": ref})
        click.echo(ref)
    error = each(refs, remove)[1]
    if error:
        raise error
