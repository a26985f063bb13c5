"""Receiving from a plain ZeroMQ socket in asyncio, woken by the socket's file descriptor.

The asyncio wrapper of pyzmq makes a future, registers an event and reschedules its poller for every
message received; for the many small messages of the Raft path (proposals, appends and their
acknowledgements) that costs about as much as handling them. An :class:`Inbox` reads the plain socket
instead, as many messages as are waiting, and sleeps only when the socket says none is.

ZeroMQ's descriptor is edge-triggered: it says the socket's state may have changed, and any operation
on the socket, a send too, may take that signal. So the inbox asks the socket itself whether a message
waits before it sleeps, and whoever sends on the same socket calls :meth:`Inbox.recheck` afterwards.
"""

from __future__ import annotations

import asyncio

import zmq

POLLIN = int(zmq.POLLIN)  # a plain int: ``events & zmq.POLLIN`` would build an enum member every time


class Inbox:
    """The multipart messages arriving on ``sock`` (a plain, not asyncio, socket)."""

    BURST = 256  # messages taken back to back before the loop gets a turn

    def __init__(self, sock: zmq.Socket):
        self._sock = sock
        self._signal = asyncio.Event()

    async def messages(self):
        """Yield each message as a list of ``zmq.Frame``, in order, until cancelled; between bursts of
        BURST messages the event loop gets a turn."""
        loop = asyncio.get_running_loop()
        descriptor = self._sock.getsockopt(zmq.FD)
        loop.add_reader(descriptor, self._signal.set)
        try:
            taken = 0
            while True:
                try:
                    frames = self._sock.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    taken = 0
                    await self._wait()
                    continue
                taken += 1
                if taken % self.BURST == 0:
                    await asyncio.sleep(0)
                yield frames
        finally:
            loop.remove_reader(descriptor)

    async def _wait(self) -> None:
        """Return when a message may be waiting: at once when the socket says one is."""
        self._signal.clear()
        if not self._sock.getsockopt(zmq.EVENTS) & POLLIN:
            await self._signal.wait()

    def recheck(self) -> None:
        """Call after sending on the same socket: the send may have taken the descriptor's signal of
        a message that arrived meanwhile."""
        if self._sock.getsockopt(zmq.EVENTS) & POLLIN:
            self._signal.set()
