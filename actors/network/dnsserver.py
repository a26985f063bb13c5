"""A host's DNS server: UDP and TCP on port 53 of the host's own address on each of its networks,
answering with ``actors/network/dns.py`` from the latest host network state.

It runs its own event loop in a thread of its own, so a busy executor loop never delays an answer.
``apply`` swaps the names in at once and opens or closes listening sockets as the host's addresses come
and go; sockets are bound with IP_FREEBIND, so an address the overlay plane has not put on its bridge
yet does not fail the bind (the server answers from the moment the address is there).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import threading
from typing import Optional

from dnslib import RCODE
from prometheus_client import Counter, Gauge

from actors.network import dns

LOG = logging.getLogger("shoal.dns")
PORT = 53
TCP_IDLE_SECONDS = 10.0
TCP_CONNECTIONS = 64  # beyond this many open at once, a new connection is closed at once
REBIND_SECONDS = 10.0  # apply and stop wait this long for the server's thread, then fail
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)

QUERIES = Counter("shoal_dns_queries_total", "DNS queries answered, by transport and response code",
                  ["transport", "rcode"])
LISTENING = Gauge("shoal_dns_listen_addresses", "Host addresses the DNS server listens on")


def _bound(kind: int, address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
        if kind == socket.SOCK_STREAM:
            # rebinding past TIME_WAIT; not for UDP, where it would let two servers share an address
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _rcode(reply: bytes) -> str:
    return RCODE.get(reply[3] & 0x0F) if len(reply) >= 4 else "none"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: "DnsServer", local: str):
        self._server = server
        self._local = local
        self._transport: Optional[asyncio.DatagramTransport] = None

    def connection_made(self, transport) -> None:
        self._transport = transport

    def datagram_received(self, data: bytes, peer) -> None:
        reply = self._server.answer(data, peer[0], self._local, "udp")
        if reply is not None:
            self._transport.sendto(reply, peer)


class DnsServer:
    """The DNS server of one host. ``start`` it once, ``apply`` each new host network state (from any
    thread; it returns once the server answers from that state, and raises OSError when a socket
    cannot be opened, the state's names being in force all the same), ``stop`` it once."""

    def __init__(self, port: int = PORT, rng: Optional[random.Random] = None):
        self._port = port
        self._rng = rng or random.Random()
        self._directory = dns.Directory({})
        self._listeners: dict[str, tuple[asyncio.DatagramTransport, asyncio.AbstractServer]] = {}
        self._connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dns-server", daemon=True)

    def start(self) -> None:
        """Start the server's thread; it listens nowhere until a state names the host's addresses."""
        self._thread.start()

    def stop(self) -> None:
        """Close every socket and end the thread."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._rebind({}), self._loop).result(REBIND_SECONDS)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._loop.close()

    @property
    def addresses(self) -> list[str]:
        """The addresses listened on now."""
        return sorted(self._listeners)

    def apply(self, state: dict) -> None:
        """Answer from ``state`` from now on, listening on the host's address on each of its networks
        with names (the ``ingress`` network has none)."""
        directory = dns.Directory(state)
        self._directory = directory
        wanted = set(directory.listen_addresses)
        opened, failures = {}, []
        for address in sorted(wanted - set(self._listeners)):
            try:
                opened[address] = (_bound(socket.SOCK_DGRAM, address, self._port),
                                   _bound(socket.SOCK_STREAM, address, self._port))
            except OSError as error:
                failures.append(f"{address}:{self._port}: {error.strerror or error}")
        asyncio.run_coroutine_threadsafe(self._rebind(opened, wanted), self._loop).result(REBIND_SECONDS)
        if failures:
            raise OSError("DNS server cannot listen on " + ", ".join(failures))

    async def _rebind(self, opened: dict, wanted: Optional[set] = None) -> None:
        wanted = set() if wanted is None else wanted
        for address in sorted(set(self._listeners) - wanted):
            udp, tcp = self._listeners.pop(address)
            udp.close()
            tcp.close()
            LOG.info("dns: stopped listening on %s:%d", address, self._port)
        for address, (udp_socket, tcp_socket) in opened.items():
            udp, _ = await self._loop.create_datagram_endpoint(lambda local=address: _Udp(self, local),
                                                               sock=udp_socket)
            tcp = await asyncio.start_server(lambda reader, writer, local=address: self._serve_tcp(reader, writer, local),
                                             sock=tcp_socket)
            self._listeners[address] = (udp, tcp)
            LOG.info("dns: listening on %s:%d (udp, tcp)", address, self._port)
        LISTENING.set(len(self._listeners))

    def answer(self, packet: bytes, querier: str, local: str, transport: str) -> Optional[bytes]:
        """The reply to one query, counted (called on the server's thread)."""
        reply = dns.respond(self._directory, packet, querier, local, transport, self._rng)
        QUERIES.labels(transport, _rcode(reply) if reply is not None else "dropped").inc()
        return reply

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, local: str) -> None:
        self._connections += 1
        try:
            if self._connections > TCP_CONNECTIONS:
                return
            querier = writer.get_extra_info("peername")[0]
            while True:
                try:
                    size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_SECONDS))[0]
                    packet = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_SECONDS)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    return
                reply = self.answer(packet, querier, local, "tcp")
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                try:
                    await writer.drain()
                except ConnectionError:
                    return
        finally:
            self._connections -= 1
            writer.close()
