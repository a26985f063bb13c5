"""A bounded HTTP client for the lan of bin/shoal-nethosts, run inside the lan namespace (a client outside
every host) by ``NetHosts.client_get``:

    python3 lanclient.py [--rounds N] [--interval S] [--timeout S] [--retries R] [--deadline S]
                         [--stop-file PATH] URL...

Each round GETs every URL in turn; a failed GET is tried again up to R times at once. Prints one JSON list:
per GET, ``{"url", "round", "at", "ok", "attempts", "body" or "error"}``, ``at`` its start (``time.time()``).
Stops at the deadline, or before the first round that finds PATH, whatever is left.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import urllib.request

MAX_ROUNDS = 10000


def get(url: str, timeout: float) -> tuple[bool, str]:
    """One GET: (True, body) or (False, what went wrong)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return True, reply.read().decode(errors="replace")
    except Exception as exc:  # noqa: BLE001 - any failure is a result to report
        return False, f"{type(exc).__name__}: {exc}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=60.0)
    parser.add_argument("--stop-file", type=pathlib.Path)
    args = parser.parse_args()
    stop_at = time.monotonic() + args.deadline
    results = []
    for number in range(min(args.rounds, MAX_ROUNDS)):
        if time.monotonic() > stop_at or (args.stop_file and args.stop_file.exists()):
            break
        for url in args.urls:
            started = time.time()
            for attempt in range(1, args.retries + 2):
                ok, text = get(url, args.timeout)
                if ok:
                    break
            results.append({"url": url, "round": number, "at": started, "ok": ok, "attempts": attempt,
                            ("body" if ok else "error"): text})
        if args.interval:
            time.sleep(args.interval)
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
