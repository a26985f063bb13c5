"""Blocking work off the event loop, in daemon threads the process never waits for at exit."""

from __future__ import annotations

import asyncio
import threading


async def in_daemon_thread(fn, *args, name: str = "worker"):
    """``fn(*args)`` run in a daemon thread of its own (called ``name``), its outcome awaited: unlike a
    pool's threads, the process never waits for it at exit (an engine stop may block for a whole grace
    period). Cancelling the await leaves the thread to finish on its own."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(outcome, error):
        if not future.cancelled():
            future.set_exception(error) if error is not None else future.set_result(outcome)

    def work():
        try:
            outcome, error = fn(*args), None
        except BaseException as exc:  # handed to the awaiting coroutine, which decides
            outcome, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, outcome, error)
        except RuntimeError:  # the loop closed meanwhile: nobody awaits the outcome any more
            pass
    threading.Thread(target=work, name=name, daemon=True).start()
    return await future
