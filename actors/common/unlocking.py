"""A locked manager's door: shoald serves ``unlock`` on a local CURVE socket until the right key comes.

Under autolock a manager's data key file opens only with the unlock key, which is on no disk. At start
shoald finds it so (datakey.Locked), starts no actor, and binds ``unlock.sock`` in the state directory
(IPC, CURVE with the host key; only this host's own keys, the admin's and the host's, are admitted).
``shoal swarm unlock`` sends the key there; a wrong one is refused with ``invalid key`` and nothing
changes; the right one gives shoald the data key, in memory only, and shoald closes the socket (so its
file, by which the CLI tells a locked manager, is gone) and starts the actors.
"""

from __future__ import annotations

import zmq
from zmq.auth.thread import ThreadAuthenticator

from actors.common import autolock, datakey, sealing
from actors.common.hostconfig import UNLOCK_SOCKET, HostConfig
from transport import auth, envelope, limits, sockets

KIND = "unlock"
ZAP_DOMAIN = "unlock"


def unlock(config: HostConfig, text: str) -> datakey.DataKey:
    """The data key of manager ``config``'s disk opened with the unlock key ``text`` (``SWMKEY-1-...``);
    autolock.InvalidKey when it is not the key that wrapped it."""
    kek = autolock.wrapping_key(autolock.parse(text))
    try:
        return datakey.unwrap(config.state_dir, config.cluster_id, kek)
    except sealing.SealError:
        raise autolock.InvalidKey() from None


def local_keys(config: HostConfig) -> set[str]:
    """The public keys this host's CLI may sign with: the host key, and the admin key where there is one."""
    found = {config.host_keys().public_text}
    try:
        found.add(config.admin_keys().public_text)
    except FileNotFoundError:
        pass
    return found


def endpoint(config: HostConfig) -> str:
    """The unlock socket's endpoint (IPC, in the state directory)."""
    return f"ipc://{config.path(UNLOCK_SOCKET)}"


class UnlockServer:
    """The unlock socket of a locked manager (blocking; shoald's loop polls it)."""

    def __init__(self, config: HostConfig, log):
        self._config, self._log = config, log
        self._context = zmq.Context()
        allowed = local_keys(config)
        self._authenticator = ThreadAuthenticator(self._context)
        self._authenticator.start()
        self._authenticator.configure_curve_callback(
            ZAP_DOMAIN, credentials_provider=auth.DomainPolicy({ZAP_DOMAIN: lambda key: key in allowed}))
        config.path(UNLOCK_SOCKET).unlink(missing_ok=True)  # left by a shoald that was killed while locked
        self._sock = sockets.server_socket(self._context, zmq.ROUTER, endpoint(config), config.host_keys(),
                                           ZAP_DOMAIN, limits.JOIN_MESSAGE_BYTES)

    def serve_once(self, timeout: float) -> datakey.DataKey | None:
        """Answer at most one request arriving within ``timeout`` seconds; the data key once the right unlock
        key came, else None."""
        if not self._sock.poll(int(timeout * 1000)):
            return None
        frames = self._sock.recv_multipart()
        if len(frames) != 2:
            return None
        routing_id = frames[0]
        try:
            message = envelope.unpack(frames[1])
        except envelope.MalformedMessage as exc:
            self._reply(routing_id, envelope.pack_error("malformed", str(exc), exc.correlation_id))
            return None
        if message.kind != KIND:
            self._reply(routing_id, envelope.pack_error("locked", datakey.LOCKED_MESSAGE, message.id))
            return None
        try:
            data_key = unlock(self._config, str((message.body or {}).get("key", "")))
        except autolock.InvalidKey as exc:
            self._log.warning("unlock refused: invalid key")
            self._reply(routing_id, envelope.pack_error("invalid_key", str(exc), message.id))
            return None
        self._config.path(UNLOCK_SOCKET).unlink()  # first: once answered, the caller must not find it locked
        self._reply(routing_id, envelope.pack(KIND, {}, message.id))
        return data_key

    def _reply(self, routing_id: bytes, data: bytes) -> None:
        try:
            self._sock.send_multipart([routing_id, data], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the caller went away

    def close(self) -> None:
        """Close the socket (its file goes: the manager no longer shows as locked) and stop the ZAP handler."""
        self._sock.close(linger=100)  # the last reply ("unlocked") still goes out
        self._authenticator.stop()
        self._context.term()
        self._config.path(UNLOCK_SOCKET).unlink(missing_ok=True)


def wait_for_unlock(config: HostConfig, stopping: list, log, poll: float = 0.05) -> datakey.DataKey | None:
    """Serve the unlock socket of locked manager ``config`` until the right key comes (its data key is
    returned) or ``stopping`` fills (None)."""
    log.warning("manager is locked: waiting for 'shoal swarm unlock'", socket=str(config.path(UNLOCK_SOCKET)))
    server = UnlockServer(config, log)
    try:
        while not stopping:
            data_key = server.serve_once(poll)
            if data_key is not None:
                log.info("unlocked")
                return data_key
        return None
    finally:
        server.close()
