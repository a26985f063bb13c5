"""Which endpoint serves a request: method and path (without its version prefix) to an endpoint name
and the path's parameters. Calls Shoal does not serve get 501 naming what it serves; unknown paths 404."""

from __future__ import annotations

import re

_ID = r"(?P<id>[^/]+)"

# (method, path pattern, endpoint name): the names label the actor's metrics, so they are few and fixed.
ROUTES = [
    ("GET", r"/_ping", "ping"),  # HEAD of any GET route is served as the GET, without the body
    ("GET", r"/version", "version"),
    ("GET", r"/info", "info"),
    ("GET", r"/swarm", "swarm_inspect"),
    ("POST", r"/swarm/update", "swarm_update"),
    ("POST", r"/swarm/(init|join)", "swarm_join"),
    ("GET", r"/swarm/unlockkey", "swarm_unlock_key"),
    ("GET", r"/nodes", "node_list"),
    ("GET", rf"/nodes/{_ID}", "node_inspect"),
    ("POST", rf"/nodes/{_ID}/update", "node_update"),
    ("DELETE", rf"/nodes/{_ID}", "node_delete"),
    ("GET", r"/services", "service_list"),
    ("POST", r"/services/create", "service_create"),
    ("GET", rf"/services/{_ID}", "service_inspect"),
    ("POST", rf"/services/{_ID}/update", "service_update"),
    ("GET", rf"/services/{_ID}/logs", "service_logs"),
    ("DELETE", rf"/services/{_ID}", "service_delete"),
    ("GET", r"/tasks", "task_list"),
    ("GET", rf"/tasks/{_ID}", "task_inspect"),
    ("GET", rf"/tasks/{_ID}/logs", "task_logs"),
    ("GET", r"/networks", "network_list"),
    ("POST", r"/networks/create", "network_create"),
    ("POST", r"/networks/prune", "network_prune"),
    ("GET", rf"/networks/{_ID}", "network_inspect"),
    ("DELETE", rf"/networks/{_ID}", "network_delete"),
    # The inspect of one of an engine's objects: none is served here, so none exists (404), and a client that
    # tries each kind of object in turn (``docker inspect NAME``) goes on to the swarm's kinds.
    ("GET", r"/(?P<kind>container)s/(?P<id>[^/]+)/json", "no_such_object"),
    ("GET", r"/(?P<kind>image|plugin)s/(?P<id>.+)/json", "no_such_object"),
    ("GET", r"/(?P<kind>volume)s/(?P<id>[^/]+)", "no_such_object"),
    *((method, pattern.format(noun=noun, id=_ID), f"{noun}_{verb}")
      for noun in ("secret", "config")
      for method, pattern, verb in (("GET", "/{noun}s", "list"), ("POST", "/{noun}s/create", "create"),
                                    ("GET", "/{noun}s/{id}", "inspect"), ("DELETE", "/{noun}s/{id}", "delete"),
                                    ("POST", "/{noun}s/{id}/update", "update"))),
]
_COMPILED = [(method, re.compile(pattern + "/?$"), name) for method, pattern, name in ROUTES]

# Paths of Docker's API that Shoal does not serve (its tasks' containers are run by services, not by
# clients): answered 501 with UNSERVED_MESSAGE, under the endpoint name ``unserved``.
UNSERVED_PREFIXES = ("/containers", "/images", "/build", "/volumes", "/exec", "/plugins", "/events", "/system",
                     "/distribution", "/session", "/commit", "/auth", "/swarm", "/services", "/tasks", "/nodes",
                     "/networks", "/secrets", "/configs", "/grpc")
UNSERVED_MESSAGE = ("{method} {path} is not served by Shoal's Engine API: it serves the swarm "
                    "(swarm, nodes, services, tasks, networks, secrets, configs), not containers, images or volumes of an engine")
NOT_FOUND = "page not found"


def match(method: str, path: str) -> tuple[str | None, dict[str, str]]:
    """``(endpoint name, path parameters)`` of a path without its query; ``("unserved", {"path": path})`` for
    a call of Docker's that Shoal does not serve, ``(None, {})`` for a path Docker's API does not have either."""
    for route_method, pattern, name in _COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            return name, found.groupdict()
    if any(path == prefix or path.startswith(prefix + "/") for prefix in UNSERVED_PREFIXES):
        return "unserved", {"path": path}
    return None, {}
