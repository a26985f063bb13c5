"""Placement constraints: Docker's ``key==value`` / ``key!=value`` expressions over a node.

:func:`parse` turns the strings of ``Placement.Constraints`` into
:class:`Constraint` objects, refusing malformed ones with Docker's messages
(``constraint expected one operator from ==, !=``, ``key 'x' is invalid``,
``value 'x' is invalid``). :func:`matches` says whether a node satisfies all
of them. The scheduler's filter, the control API's validation and the
orchestrator's enforcer and global mode all read constraints through here.

Semantics follow swarmkit: keys and values compare case-insensitively
(label *names* are case-sensitive), and a missing attribute or label reads as
the empty string, so ``==`` fails on it and ``!=`` holds. Unlike Docker,
which accepts any well-formed key and then never places the task, an unknown
key is refused, because a constraint that can never hold is a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from transport import schema

OPERATORS = ("==", "!=")  # tried in this order, as Docker does: "a==b!=c" is key a, value "b!=c"
NODE_LABEL_PREFIX = "node.labels."
ENGINE_LABEL_PREFIX = "engine.labels."

# Docker's patterns: a key starts with a letter or '_'; a value may not hold operator characters.
_KEY = re.compile(r"[a-z_][a-z0-9\-_.]+", re.IGNORECASE)
_VALUE = re.compile(r"[a-z0-9:\-_\s.*()?+\[\]\\^$|/]+", re.IGNORECASE)

# Fixed keys (lower case) -> the node attribute they read.
_ATTRIBUTES: dict[str, Callable[[dict], str]] = {
    "node.id": lambda node: node.get("ID") or "",
    "node.hostname": lambda node: schema.get_path(node, "Description.Hostname") or "",
    "node.role": lambda node: schema.get_path(node, "Spec.Role") or "",
    "node.platform.os": lambda node: schema.get_path(node, "Description.Platform.OS") or "",
    "node.platform.arch": lambda node: schema.get_path(node, "Description.Platform.Architecture") or "",
}
KNOWN_KEYS = ", ".join([*_ATTRIBUTES, NODE_LABEL_PREFIX + "<name>", ENGINE_LABEL_PREFIX + "<name>"])


@dataclass(frozen=True)
class Constraint:
    """One parsed expression: ``key`` as written, ``equal`` for ``==`` (False for ``!=``), ``value``."""

    key: str
    equal: bool
    value: str

    def __str__(self) -> str:
        return f"{self.key}{'==' if self.equal else '!='}{self.value}"

    def holds(self, node: dict) -> bool:
        """True if ``node`` satisfies this expression (values compare case-insensitively)."""
        same = attribute(self.key, node).casefold() == self.value.casefold()
        return same if self.equal else not same


def parse_one(expression: str) -> Constraint:
    """Parse one ``key==value`` or ``key!=value``; raise ValueError with Docker's message if malformed."""
    for operator in OPERATORS:
        if operator not in expression:
            continue
        key, value = (part.strip() for part in expression.split(operator, 1))
        if not _KEY.fullmatch(key):
            raise ValueError(f"key '{key}' is invalid")
        if not _VALUE.fullmatch(value):
            raise ValueError(f"value '{value}' is invalid")
        if not _known(key):
            raise ValueError(f"key '{key}' is invalid: use {KNOWN_KEYS}")
        return Constraint(key, operator == "==", value)
    raise ValueError(f"constraint expected one operator from {', '.join(OPERATORS)}")


def parse(expressions: Iterable[str]) -> list[Constraint]:
    """Parse every expression of ``Placement.Constraints``; the first malformed one raises ValueError."""
    return [parse_one(expression) for expression in expressions]


def matches(constraints: Iterable[Constraint], node: dict) -> bool:
    """True if ``node`` satisfies every constraint (an empty list always matches)."""
    return all(constraint.holds(node) for constraint in constraints)


def of_service(service: dict) -> list[Constraint]:
    """The service's parsed placement constraints. The control API refuses malformed ones; one stored
    before it did is ignored here rather than evicting (or never placing) every task of the service."""
    try:
        return parse(schema.get_path(service, "Spec.TaskTemplate.Placement.Constraints") or [])
    except ValueError:
        return []


def parse_spread(descriptor: str) -> str:
    """A ``Placement.Preferences`` spread descriptor, stripped, when it names a node or engine label
    (``node.labels.zone``); else ValueError saying so."""
    key = descriptor.strip()
    if not _is_label(key):
        raise ValueError(f"invalid spread descriptor '{key}': use {NODE_LABEL_PREFIX}<name> or {ENGINE_LABEL_PREFIX}<name>")
    return key


def attribute(key: str, node: dict) -> str:
    """The node's value for a constraint ``key`` (a known one: see :func:`parse_one`), "" when it lacks it."""
    lowered = key.lower()
    if lowered in _ATTRIBUTES:
        return _ATTRIBUTES[lowered](node)
    if lowered.startswith(NODE_LABEL_PREFIX):
        labels, prefix = schema.get_path(node, "Spec.Labels"), NODE_LABEL_PREFIX
    else:
        labels, prefix = schema.get_path(node, "Description.Engine.Labels"), ENGINE_LABEL_PREFIX
    # Label names may hold dots, so they are looked up whole, not as a dotted path.
    return (labels or {}).get(key[len(prefix):], "")


def _known(key: str) -> bool:
    return key.lower() in _ATTRIBUTES or _is_label(key)


def _is_label(key: str) -> bool:
    lowered = key.lower()
    return any(lowered.startswith(prefix) and len(key) > len(prefix) for prefix in (NODE_LABEL_PREFIX, ENGINE_LABEL_PREFIX))
