"""ZAP authorisation of CURVE clients, by socket domain.

Each server socket names a ZAP domain (``admin``, ``manager``, ``node``,
``join``, ``host``: the host's own key only); a policy maps the domain to a predicate over the client's z85
public key. Unknown domains and keys are refused, so a connection with an
unknown key gets no further than the handshake.
"""

from __future__ import annotations

from typing import Callable

import zmq
from zmq.auth.asyncio import AsyncioAuthenticator

KeyPredicate = Callable[[str], bool]


class DomainPolicy:
    """Maps ZAP domains to key predicates; the ZAP handler consults it for each handshake."""

    def __init__(self, rules: dict[str, KeyPredicate] | None = None):
        self._rules: dict[str, KeyPredicate] = dict(rules or {})

    def allow(self, domain: str, predicate: KeyPredicate) -> None:
        """Admit to ``domain`` the clients whose z85 public key satisfies ``predicate``."""
        self._rules[domain] = predicate

    def callback(self, domain: str, key: bytes) -> bool:
        """pyzmq's credentials-provider hook: True to admit ``key`` to ``domain``."""
        rule = self._rules.get(domain)
        if rule is None:
            return False
        try:
            return bool(rule(key.decode("ascii")))
        except Exception:  # a broken predicate must refuse, never crash the ZAP handler
            return False


def allow_anyone(_key: str) -> bool:
    """Predicate for the join socket: any CURVE client may ask to join."""
    return True


def start_authenticator(context: zmq.Context, policy: DomainPolicy) -> AsyncioAuthenticator:
    """Start the ZAP handler for ``context`` (an asyncio context, inside a running loop) enforcing ``policy``."""
    authenticator = AsyncioAuthenticator(context)
    authenticator.start()
    for domain in ("admin", "manager", "node", "join", "host"):
        authenticator.configure_curve_callback(domain, credentials_provider=policy)
    return authenticator
