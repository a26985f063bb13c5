"""An actor's HTTP endpoint: its Prometheus metrics at /metrics, and any further JSON routes its actor adds
(the control API's /discovery), served with the host's web configuration (TLS, basic auth:
actors/common/webconfig.py) on the host's metrics address."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

import bcrypt
import prometheus_client
from prometheus_client.exposition import ThreadingWSGIServer

from actors.common.webconfig import WebConfig

Route = Callable[[], bytes]  # the body of a JSON answer; an exception answers 503
JSON = [("Content-Type", "application/json")]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # scrapes every few seconds are not news
        pass


class _Server(ThreadingWSGIServer):
    def handle_error(self, request, client_address):  # a failed TLS handshake or a client gone: its own loss
        pass


class MetricsApp:
    """The WSGI application: basic auth when ``config`` has users, then /metrics or a route of ``routes``
    (a dict the actor may add to while serving)."""

    def __init__(self, config: WebConfig, routes: dict[str, Route]):
        self._config, self._routes = config, routes
        self._metrics = prometheus_client.make_wsgi_app()
        self._verified: set[bytes] = set()  # digests of credentials bcrypt accepted: bcrypt is slow by design
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if self._config.users and not self._authorised(environ.get("HTTP_AUTHORIZATION", "")):
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="shoal"'),
                                                ("Content-Type", "text/plain")])
            return [b"Unauthorized\n"]
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            return self._metrics(environ, start_response)
        route = self._routes.get(path)
        if route is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found: /metrics serves the metrics\n"]
        try:
            body = route()
        except Exception:  # the route's actor is not ready (its view not caught up) or stopping
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"Service Unavailable\n"]
        start_response("200 OK", [*JSON, ("Content-Length", str(len(body)))])
        return [body]

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self._config.users.get(user)
        if hashed is None:
            return False
        digest = hashlib.sha256(b"\0".join((user.encode(), password.encode(), hashed))).digest()
        with self._lock:
            if any(hmac.compare_digest(digest, known) for known in self._verified):
                return True
        if not bcrypt.checkpw(password.encode(), hashed):
            return False
        with self._lock:
            self._verified.add(digest)
        return True


def tls_context(config: WebConfig) -> ssl.SSLContext:
    """The server side TLS context of ``config`` (which has a cert_file)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3 if config.min_version == "TLS13" else ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.cert_file, config.key_file)
    if config.client_cert_required is not None:
        context.load_verify_locations(config.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED if config.client_cert_required else ssl.CERT_OPTIONAL
    return context


def serve(addr: str, port: int, config: WebConfig, routes: dict[str, Route]) -> ThreadingWSGIServer:
    """Serve MetricsApp on ``addr``:``port`` in a daemon thread (OSError when the port is taken; ssl.SSLError
    or OSError when the web config's certificate or key cannot be loaded). Returns the server."""
    server = make_server(addr, port, MetricsApp(config, routes), _Server, handler_class=_QuietHandler)
    if config.cert_file:
        try:
            # The handshake on the handler's thread: a client that connects and stays silent holds only that one.
            server.socket = tls_context(config).wrap_socket(server.socket, server_side=True,
                                                            do_handshake_on_connect=False)
        except Exception:
            server.server_close()
            raise
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
