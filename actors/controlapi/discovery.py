"""Prometheus HTTP service discovery (``http_sd``) of a cluster's metrics endpoints, from the store's nodes.

Every host in the nodes table, down or not (so Prometheus sees ``up == 0`` for a host that stopped), is
listed with one target per actor process its role runs (MANAGER_ACTORS or WORKER_ACTORS) and one for its
supervisor, shoald (actor label ``shoald``), at the metrics
address and scheme the host declared when it joined (``Shoal.Metrics``) and the port its base port gives
that actor. A manager's further dispatcher processes and scheduler shards (host.json tuning that the store
does not hold) are not listed.
"""

from __future__ import annotations

import json

from actors.common.hostconfig import MANAGER_ACTORS, SUPERVISOR, WORKER_ACTORS, metrics_port
from transport import schema

PLAIN_METRICS = {"addr": "127.0.0.1", "scheme": "http"}  # a host that declared nothing (joined before)


def target_groups(nodes) -> list[dict]:
    """The http_sd target groups of store objects ``nodes`` (an iterable), sorted by node and actor:
    ``{"targets": ["ADDR:PORT"], "labels": {"node", "hostname", "role", "actor", "__scheme__"}}``."""
    groups = []
    for node in sorted(nodes, key=lambda node: node["ID"]):
        endpoints = schema.get_path(node, "Shoal.Endpoints")
        if not endpoints:
            continue
        metrics = {**PLAIN_METRICS, **(schema.get_path(node, "Shoal.Metrics") or {})}
        role = schema.get_path(node, "Spec.Role")
        labels = {"node": node["ID"], "hostname": schema.get_path(node, "Description.Hostname") or "", "role": role,
                  "__scheme__": metrics["scheme"]}
        for actor in (*(MANAGER_ACTORS if role == "manager" else WORKER_ACTORS), SUPERVISOR):
            groups.append({"targets": [f"{metrics['addr']}:{metrics_port(endpoints['port'], actor)}"],
                           "labels": {**labels, "actor": actor}})
    return groups


def document(nodes) -> bytes:
    """The http_sd answer for ``nodes``: target_groups as JSON."""
    return json.dumps(target_groups(nodes)).encode()
