#!/usr/bin/env python3
"""Decision passes an idle cluster's controllers run per second: what lease renewals cost them.

Starts a one-manager cluster (loopback, no service), waits ``--settle`` seconds,
then reads ``shoal_reconcile_passes_total`` of the orchestrator, allocator and
scheduler twice, ``--seconds`` apart. Nothing changes in the store meanwhile
but leases (each controller's, the dispatcher's presence), so every pass above
one per controller per IDLE_WAKE was woken by a renewal. ``--code`` names the
Shoal tree to run (say a checkout of main, to compare).

    python3 benchmarks/idle_passes.py [--code DIR] [--seconds 20] [--settle 8]
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
import tempfile
import time
import urllib.request

CONTROLLERS = ("orchestrator", "allocator", "scheduler")


def passes(config, controller: str) -> float:
    """The controller's ``shoal_reconcile_passes_total`` from its metrics page."""
    url = f"http://127.0.0.1:{config.metrics_port(controller)}/metrics"
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    return float(re.search(r'shoal_reconcile_passes_total\{controller="%s"\} (\S+)' % controller, body).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parents[1])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=8.0)
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from actors.common.hostconfig import HostConfig
    from tests.integration.cluster import Cluster
    with tempfile.TemporaryDirectory(prefix="shoal-idle-") as root:
        cluster = Cluster(pathlib.Path(root))
        try:
            config = HostConfig.load(cluster.init_manager().state_dir)
            time.sleep(args.settle)
            first = {name: passes(config, name) for name in CONTROLLERS}
            time.sleep(args.seconds)
            rates = {name: (passes(config, name) - first[name]) / args.seconds for name in CONTROLLERS}
        finally:
            cluster.teardown()
    print(f"code {args.code}: idle passes per second: "
          + ", ".join(f"{name} {rate:.2f}" for name, rate in rates.items()) + f"; all {sum(rates.values()):.2f}")


if __name__ == "__main__":
    main()
