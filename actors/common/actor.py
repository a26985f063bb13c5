"""The process shell every actor runs in.

:func:`run_actor` loads the host's identity, starts the ZAP handler and the
Prometheus endpoint, runs the actor's coroutine, and exits cleanly on SIGTERM
or SIGINT. The actor's logic lives elsewhere; this is only the IO around it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import signal
import ssl
import sys
from typing import Awaitable, Callable

import zmq
import zmq.asyncio

from actors.common import files, metricsserver, webconfig
from actors.common.hostconfig import HostConfig
from actors.common.log import Logger
from transport import auth, keys, limits, sockets


@dataclasses.dataclass
class ActorContext:
    """What an actor's main coroutine is given: identity, sockets factory, logger."""

    name: str
    config: HostConfig
    keypair: keys.KeyPair
    zmq_context: zmq.asyncio.Context
    policy: auth.DomainPolicy
    log: Logger
    # Further paths of the actor's metrics endpoint (actors/common/metricsserver.py), added while it runs.
    metrics_routes: dict[str, metricsserver.Route] = dataclasses.field(default_factory=dict)

    def serve(self, kind: int, endpoint_name: str, zap_domain: str, max_message_bytes: int) -> zmq.asyncio.Socket:
        """Bind a CURVE server socket on this host's ``endpoint_name`` port, refusing frames over
        ``max_message_bytes`` (the socket's limit from transport/limits.py)."""
        return sockets.server_socket(self.zmq_context, kind, self.config.bind_endpoint(endpoint_name), self.keypair,
                                     zap_domain, max_message_bytes)

    def connect(self, kind: int, connect_to: str, server_public: bytes,
                max_message_bytes: int = limits.REPLY_MESSAGE_BYTES) -> zmq.asyncio.Socket:
        """Connect a CURVE client socket, pinning ``server_public``, with this host's key."""
        return sockets.client_socket(self.zmq_context, kind, connect_to, self.keypair, server_public, max_message_bytes)


ActorMain = Callable[[ActorContext], Awaitable[None]]


def run_actor(name: str, state_dir: pathlib.Path, main: ActorMain, instance: int = 0) -> int:
    """Run actor ``name`` of the host in ``state_dir`` until it ends or is signalled (``instance``: which of
    the actor's processes this is, a scheduler's shard or a further dispatcher, for its metrics port).

    Returns the process exit code: 0 after SIGTERM/SIGINT or a normal end,
    1 when the actor failed (the supervisor restarts it with back-off).
    """
    log = Logger(name)
    files.private_files()
    try:
        config = HostConfig.load(state_dir)
        keypair = config.host_keys()
    except Exception as exc:
        log.error("cannot start", error=str(exc))
        return 1
    try:
        return asyncio.run(_run(name, config, keypair, log, main, instance))
    except KeyboardInterrupt:
        return 0


async def _run(name: str, config: HostConfig, keypair: keys.KeyPair, log: Logger, main: ActorMain, instance: int) -> int:
    context = zmq.asyncio.Context()
    policy = auth.DomainPolicy()
    authenticator = auth.start_authenticator(context, policy)
    metrics_port = config.metrics_port(name, instance)
    actor = ActorContext(name, config, keypair, context, policy, log)
    try:
        metricsserver.serve(config.metrics_addr, metrics_port, webconfig.load(config.metrics_web_config),
                            actor.metrics_routes)
    except (OSError, ssl.SSLError, webconfig.WebConfigError) as exc:
        log.error("cannot serve metrics", port=metrics_port, error=str(exc))
        return 1
    task = asyncio.ensure_future(main(actor))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info("started", node=config.node_id, metrics_port=metrics_port)
    code = 0
    try:
        await task
    except asyncio.CancelledError:
        log.info("stopping on signal", node=config.node_id)
    except zmq.ZMQError as exc:
        log.error("socket failure", error=str(exc))
        code = 1
    except Exception as exc:  # the supervisor restarts us; say why in one line
        log.error("crashed", error=f"{type(exc).__name__}: {exc}")
        code = 1
    finally:
        authenticator.stop()
        context.destroy(linger=0)
    sys.stdout.flush()
    return code
