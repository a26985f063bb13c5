"""The engineapi actor: Docker's Engine API over HTTP/1.1 on ``STATE_DIR/docker.sock`` (mode 0600), and on
TCP with mutual TLS at host.json's ``engine_api_addr`` while it is set (``shoal engine-api enable``).

Each connection is an h11 state machine: a request's body is read (at most MAX_BODY_BYTES), answered by
:class:`actors.engineapi.endpoints.Endpoints` over one CURVE connection to this manager's control API
(signed with the host key, as a manager's may be), and the connection is kept for the next request.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http
import importlib.metadata
import json
import os
import pathlib
import ssl
import time

import h11
import zmq
from prometheus_client import Counter, Histogram

from actors.common import tlsfiles
from actors.common.actor import ActorContext
from actors.common.hostconfig import HostConfig
from actors.engineapi import versions
from actors.engineapi.endpoints import Answer, Endpoints
from actors.engineapi.tlsstream import TlsStream
from actors.engineapi.translate import HostFacts
from transport import limits
from transport.rpc import RpcClient

SOCKET_NAME = "docker.sock"
MAX_BODY_BYTES = limits.CONTROL_MESSAGE_BYTES  # more could not reach the control API anyway
CALL_TIMEOUT = 10.0
READ_BYTES = 64 * 1024
WATCH_SECONDS = 1.0  # how often host.json and the server certificate are looked at for a change
TLS_HANDSHAKE_SECONDS = 10.0

REQUESTS = Counter("shoal_engineapi_requests_total", "Engine API requests", ["endpoint", "status"])
HANDSHAKES = Counter("shoal_engineapi_tls_handshakes_total", "TLS handshakes on the Engine API's TCP listener",
                     ["result"])
for _result in ("accepted", "refused"):  # both series start at zero
    HANDSHAKES.labels(_result)
LATENCY = Histogram("shoal_engineapi_request_seconds", "Engine API request latency", ["endpoint"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def _server_version() -> str:
    try:
        return importlib.metadata.version("shoal")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _operating_system() -> str:
    try:
        for line in pathlib.Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip('"')
    except OSError:
        pass
    return "Linux"


def host_facts(hostname: str) -> HostFacts:
    """This machine as ``/info`` and ``/version`` describe it."""
    uname = os.uname()
    return HostFacts(hostname=hostname, kernel=uname.release, operating_system=_operating_system(),
                     architecture=uname.machine, cpus=os.cpu_count() or 1,
                     memory_bytes=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
                     server_version=f"{_server_version()}-shoal")


def _encoded(value):
    """JSON for what the json module cannot write itself: bytes as base64, as Go writes a []byte."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _headers(answer: Answer, content: bytes) -> list[tuple[str, str]]:
    headers = [("Api-Version", versions.API_VERSION), ("Docker-Experimental", "false"), ("Ostype", "linux"),
               ("Server", f"Shoal/{_server_version()} (linux)")]
    if answer.stream is not None:  # chunked
        return headers + [("Content-Type", answer.media_type)]
    if answer.status != 204:
        headers.append(("Content-Length", str(len(content))))
    if answer.text is not None:
        return headers + [("Content-Type", "text/plain; charset=utf-8"), ("Swarm", "active/manager"),
                          ("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")]
    return headers + [("Content-Type", "application/json")] if content else headers


def _content(answer: Answer) -> bytes:
    if answer.text is not None:
        return answer.text.encode()
    if answer.body is None:
        return b""
    return json.dumps(answer.body, default=_encoded).encode() + b"\n"


class EngineApi:
    """The unix-socket HTTP server and its client of the control API."""

    def __init__(self, actor: ActorContext):
        self._actor = actor
        manager = actor.config.local_manager()
        sock = actor.connect(zmq.DEALER, manager.endpoint("control"), manager.public_key.encode(), limits.REPLY_MESSAGE_BYTES)
        self._control = RpcClient(sock, f"the control API at {manager.addr}:{manager.port}")
        self._endpoints = Endpoints(self._call, host_facts(actor.config.hostname), actor.config.addr)
        self.path = actor.config.path(SOCKET_NAME)

    async def _call(self, kind: str, body: dict):
        return await self._control.call(kind, body, timeout=CALL_TIMEOUT, max_bytes=limits.STORE_BYTES)

    async def run(self) -> None:
        """Serve the socket until cancelled; the socket file is made anew at start and removed at the end."""
        self.path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o600)
        self._actor.log.info("serving the Docker Engine API", socket=str(self.path), api_version=versions.API_VERSION)
        try:
            await asyncio.gather(server.serve_forever(), self._serve_tcp_while_enabled())
        finally:
            server.close()
            self.path.unlink(missing_ok=True)
            self._control.close()

    def _tcp_setting(self) -> tuple[str | None, int | None]:
        """host.json's ``engine_api_addr`` and the server certificate's mtime (a new one is served anew)."""
        addr = HostConfig.load(self._actor.config.state_dir).engine_api_addr
        try:
            stamp = (tlsfiles.directory(self._actor.config.state_dir) / tlsfiles.SERVER_CERT).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        return addr, stamp

    async def _serve_tcp_while_enabled(self) -> None:
        """Listen on TCP with mutual TLS while host.json names an address, following its changes (and a
        renewed server certificate) within WATCH_SECONDS, until cancelled."""
        current, server = (None, None), None
        try:
            while True:
                wanted = self._tcp_setting()
                if wanted != current:
                    if server is not None:
                        server.close()
                        self._actor.log.info("stopped serving the Docker Engine API on TCP", addr=current[0])
                    server, current = await self._start_tcp(wanted[0]), wanted
                await asyncio.sleep(WATCH_SECONDS)
        finally:
            if server is not None:
                server.close()

    async def _start_tcp(self, addr: str | None):
        """The TCP server with mutual TLS on ``addr`` (``ADDR:PORT``), or None for None or when it cannot
        start (logged; the next change of the setting tries again)."""
        if addr is None:
            return None
        host, _, port = addr.rpartition(":")
        try:
            context = tlsfiles.server_context(self._actor.config.state_dir)
            server = await asyncio.start_server(functools.partial(self._serve_tls, context), host, int(port))
        except (tlsfiles.TlsFilesError, OSError) as exc:
            self._actor.log.error("cannot serve the Docker Engine API on TCP", addr=addr, error=str(exc)[:300])
            return None
        self._actor.log.info("serving the Docker Engine API on TCP with mutual TLS", addr=addr)
        return server

    async def _serve_tls(self, context: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one TCP connection once its TLS handshake has checked the client's certificate; a client
        refused there gets the TLS alert saying why, and the refusal is counted and logged."""
        stream = TlsStream(context, reader, writer)
        try:
            await asyncio.wait_for(stream.handshake(), TLS_HANDSHAKE_SECONDS)
        except (ssl.SSLError, ConnectionError, asyncio.TimeoutError) as exc:
            HANDSHAKES.labels("refused").inc()
            peer = writer.get_extra_info("peername") or ("?", 0)
            self._actor.log.warning("refused a TLS client", peer=f"{peer[0]}:{peer[1]}",
                                    error=str(exc)[:200] or type(exc).__name__)
            writer.close()
            return
        HANDSHAKES.labels("accepted").inc()
        await self._serve(stream, stream)

    async def _serve(self, reader, writer) -> None:
        """Answer the HTTP/1.1 requests of one connection (``reader``: ``read``; ``writer``: ``write``, ``drain``,
        ``close``: an asyncio stream pair, or a :class:`TlsStream` for both) until the client leaves."""
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._next_request(connection, reader, writer)
                if request is None:
                    break
                if not await self._answer(connection, reader, writer, *request):
                    break
                if connection.our_state is h11.MUST_CLOSE:
                    break
                connection.start_next_cycle()
        except (h11.RemoteProtocolError, ConnectionError, ssl.SSLError) as exc:  # SSLError: a TLS client's bad record
            self._actor.log.warning("bad HTTP connection", error=str(exc)[:200])
        finally:
            writer.close()

    async def _next_request(self, connection: h11.Connection, reader, writer):
        """``(method, target, body, head_only)`` of the next request, or None when the client is gone;
        a body over MAX_BODY_BYTES is answered 413 here and ends the connection (None)."""
        request, body = None, bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(READ_BYTES))  # b"" at the end: ConnectionClosed next
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                request = event
                length = dict(event.headers).get(b"content-length", b"0")
                if length.isdigit() and int(length) > MAX_BODY_BYTES:  # refused before it is sent
                    return await self._too_large(connection, writer)
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY_BYTES:  # a chunked body says its size only as it comes
                    return await self._too_large(connection, writer)
            elif isinstance(event, h11.EndOfMessage):
                return request.method.decode(), request.target.decode(), bytes(body), request.method == b"HEAD"

    async def _too_large(self, connection: h11.Connection, writer) -> None:
        """Answer 413 to a request whose body is over MAX_BODY_BYTES (the connection then closes)."""
        answer = Answer(413, {"message": f"request body larger than {MAX_BODY_BYTES} bytes"})
        self._send(connection, writer, "too_large", answer, False, time.perf_counter())
        await writer.drain()

    async def _answer(self, connection: h11.Connection, reader, writer, method: str, target: str, body: bytes,
                      head_only: bool) -> bool:
        """Answer one request; False when the client left before the answer was complete."""
        started = time.perf_counter()
        name, answer = await self._endpoints.respond("GET" if head_only else method, target, body)
        if answer.stream is not None:
            if not head_only:
                return await self._send_stream(connection, reader, writer, name, answer, started)
            await answer.stream.aclose()
        self._send(connection, writer, name, answer, head_only, started)
        await writer.drain()
        return True

    async def _send_stream(self, connection: h11.Connection, reader, writer, name: str, answer: Answer,
                           started: float) -> bool:
        """Send a streamed answer's chunks as they come, until it ends or the client speaks (what it sent is
        kept for the next request) or leaves; False when it left."""
        writer.write(connection.send(h11.Response(status_code=answer.status, headers=_headers(answer, b""),
                                                  reason=http.HTTPStatus(answer.status).phrase)))
        await writer.drain()
        REQUESTS.labels(name, str(answer.status)).inc()
        LATENCY.labels(name).observe(time.perf_counter() - started)
        heard = asyncio.ensure_future(reader.read(READ_BYTES))
        step = None
        try:
            while True:
                step = asyncio.ensure_future(anext(answer.stream, None))
                await asyncio.wait({step, heard}, return_when=asyncio.FIRST_COMPLETED)
                chunk = step.result() if step.done() else None
                if chunk is None:
                    break
                if chunk:  # a round with nothing new
                    writer.write(connection.send(h11.Data(data=chunk)))
                    await writer.drain()
        finally:
            for pending in (step, heard):
                if pending is not None and not pending.done():
                    pending.cancel()
                    await asyncio.wait({pending})
            await answer.stream.aclose()
        if heard.done() and not heard.cancelled():
            said = b"" if heard.exception() else heard.result()
            if not said:
                return False
            connection.receive_data(said)
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        return True

    def _send(self, connection: h11.Connection, writer, name: str, answer: Answer, head_only: bool,
              started: float) -> None:
        content = _content(answer)
        headers = _headers(answer, content)
        if head_only:
            content = b""
        writer.write(connection.send(h11.Response(status_code=answer.status, headers=headers,
                                                  reason=http.HTTPStatus(answer.status).phrase)))
        if content:
            writer.write(connection.send(h11.Data(data=content)))
        writer.write(connection.send(h11.EndOfMessage()))
        REQUESTS.labels(name, str(answer.status)).inc()
        LATENCY.labels(name).observe(time.perf_counter() - started)
        if answer.status >= 500 and answer.status != 501:  # 501 is an answer, not a failure
            self._actor.log.warning("engine API error", endpoint=name, status=answer.status)


async def main(actor: ActorContext) -> None:
    """Entry point of the ``engineapi`` actor."""
    await EngineApi(actor).run()
