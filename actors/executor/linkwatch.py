"""Noticing at once that the dispatcher's end of the executor's link has gone.

When a dispatcher's process dies (killed, or its host shut down cleanly) its
kernel closes the TCP connection, and ZeroMQ reports the disconnection to a
monitor of the socket. The executor then fails over to another dispatcher
at once, instead of waiting out a heartbeat's deadline: on a manager's
crash, its workers are back in session elsewhere before the new leader has
replacements to hand out. A host that vanishes without closing its
connections (power loss, a partition) is not seen here; the heartbeat's
deadline still covers that.
"""

from __future__ import annotations

import itertools

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

_WATCHES = itertools.count()


class LinkWatch:
    """Watches the connection of one client socket."""

    def __init__(self, sock: zmq.asyncio.Socket):
        """Start watching ``sock``."""
        self._sock = sock
        # An address of its own: pyzmq's default names it by file descriptor, which a new socket may reuse
        # while the last monitor on that number is still closing.
        self._monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED,
                                                addr=f"inproc://linkwatch-{next(_WATCHES)}")
        self._established = False

    def established(self) -> None:
        """Note that the link is up (a reply came over it): its handshake may have ended before the
        monitor started."""
        self._established = True

    async def lost(self) -> None:
        """Return when a connection of the socket that is up (handshake seen, or :meth:`established`)
        is closed by its peer. Cancel to stop watching (the monitor is closed either way). A connection
        refused, or closed during its handshake (say, the dispatcher does not admit this node's key
        yet), does not count: ZeroMQ retries it by itself."""
        try:
            while True:
                event = parse_monitor_message(await self._monitor.recv_multipart())["event"]
                if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self._established = True
                elif event == zmq.EVENT_DISCONNECTED and self._established:
                    return
        finally:
            if not self._sock.closed:
                self._sock.disable_monitor()
            self._monitor.close(linger=0)
