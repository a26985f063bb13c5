"""One-line structured logs: ``ts=... level=... actor=... msg="..." key=value ...``."""

from __future__ import annotations

import os
import sys
import time


def _quote(value) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class Logger:
    """Writes one line per event naming the actor and the objects involved."""

    def __init__(self, actor: str, stream=None):
        self.actor = actor
        self._stream = stream or sys.stderr

    def _emit(self, level: str, msg: str, fields: dict) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        parts = [f"ts={stamp}", f"level={level}", f"actor={self.actor}", f"msg={_quote(msg)}"]
        parts.extend(f"{key}={_quote(value)}" for key, value in fields.items())
        self._stream.write(" ".join(parts) + "\n")
        self._stream.flush()

    def info(self, msg: str, **fields) -> None:
        """Log an ordinary event."""
        self._emit("info", msg, fields)

    def warning(self, msg: str, **fields) -> None:
        """Log something wrong that the actor survives."""
        self._emit("warn", msg, fields)

    def error(self, msg: str, **fields) -> None:
        """Log a failure."""
        self._emit("error", msg, fields)

    def debug(self, msg: str, **fields) -> None:
        """Log detail, only when ``SHOAL_DEBUG`` is set in the environment."""
        if os.environ.get("SHOAL_DEBUG"):
            self._emit("debug", msg, fields)
