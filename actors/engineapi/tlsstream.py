"""TLS over an asyncio stream pair through memory BIOs, so that a refused handshake still sends its alert.

asyncio's own TLS (``start_server(ssl=...)``) drops the connection when the server refuses a handshake
without sending the TLS alert that says why, so a client without a certificate sees only ``EOF``. Here
the alert (``certificate required``, ``unknown ca``...) goes out before the connection closes.
"""

from __future__ import annotations

import asyncio
import ssl

READ_BYTES = 64 * 1024


class TlsStream:
    """A server-side TLS connection over ``reader``/``writer``, itself a reader and a writer with the
    methods the Engine API's HTTP loop uses: ``read``, ``write``, ``drain``, ``close``."""

    def __init__(self, context: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._reader, self._writer = reader, writer

    def peer_name(self) -> str:
        """The common name of the client's certificate (after the handshake)."""
        subject = dict(item for part in (self._tls.getpeercert() or {}).get("subject", ()) for item in part)
        return subject.get("commonName", "")

    async def handshake(self) -> None:
        """Complete the handshake; ssl.SSLError (after its alert is sent) when either side refuses,
        ConnectionError when the client leaves."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                await self._receive()
            except ssl.SSLError:
                await self._flush()  # the alert
                raise
        await self._flush()  # the end of the handshake, and TLS 1.3's session tickets

    async def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self._writer.write(pending)
            await self._writer.drain()

    async def _receive(self) -> None:
        data = await self._reader.read(READ_BYTES)
        if not data:
            raise ConnectionResetError("the client closed the connection")
        self._incoming.write(data)

    async def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of the client's data; b"" when it has closed the connection."""
        while True:
            try:
                return self._tls.read(limit)
            except ssl.SSLWantReadError:
                await self._flush()  # a key update's answer
                data = await self._reader.read(READ_BYTES)
                if not data:
                    return b""
                self._incoming.write(data)
            except ssl.SSLZeroReturnError:
                return b""

    def write(self, data: bytes) -> None:
        """Encrypt ``data`` for the client (sent by :meth:`drain`)."""
        self._tls.write(data)
        self._writer.write(self._outgoing.read())

    async def drain(self) -> None:
        """Wait until what was written may be sent."""
        await self._writer.drain()

    def close(self) -> None:
        """Close the connection (without TLS's close_notify: HTTP/1.1 frames every answer)."""
        self._writer.close()
