"""Cluster membership: who votes, who only learns, and which configuration is in force at each index.

Membership changes go one server at a time (thesis §4.1): add a learner
(non-voting, catches up), promote it to voter, or remove a voter or learner.
As in the thesis, a member uses the newest configuration in its log, committed
or not, so :class:`MembershipLog` follows appends, truncations, snapshots and
compaction. A config entry's data is the JSON of the change *and* the whole
resulting configuration, so any entry can be read on its own.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from actors.raft.values import ConfChangeRefused

CONF_ACTIONS = ("add_learner", "promote", "remove")


@dataclass(frozen=True)
class Membership:
    """One configuration: sorted tuples of voter and learner ids (disjoint)."""

    voters: tuple[str, ...]
    learners: tuple[str, ...] = ()

    @classmethod
    def of(cls, voters, learners=()) -> Membership:
        """A configuration from any iterables of ids; ``ValueError`` if a node is both voter and learner."""
        voters, learners = tuple(sorted(set(voters))), tuple(sorted(set(learners)))
        if set(voters) & set(learners):
            raise ValueError("a node cannot be both voter and learner")
        return cls(voters, learners)

    def changed(self, action: str, node_id: str) -> Membership:
        """The configuration after ``action`` on ``node_id``; ``ConfChangeRefused`` if it does not apply."""
        if action == "add_learner":
            if node_id in self.voters or node_id in self.learners:
                raise ConfChangeRefused(f"{node_id} is already a member")
            return Membership.of(self.voters, self.learners + (node_id,))
        if action == "promote":
            if node_id not in self.learners:
                raise ConfChangeRefused(f"{node_id} is not a learner")
            return Membership.of(self.voters + (node_id,), set(self.learners) - {node_id})
        if action == "remove":
            if node_id not in self.voters and node_id not in self.learners:
                raise ConfChangeRefused(f"{node_id} is not a member")
            if self.voters == (node_id,):
                raise ConfChangeRefused("cannot remove the last voter")
            return Membership.of(set(self.voters) - {node_id}, set(self.learners) - {node_id})
        raise ConfChangeRefused(f"unknown membership action {action!r}")

    def encode_change(self, action: str, node_id: str) -> bytes:
        """The data of a config entry that changes the configuration to this one by ``action``."""
        return json.dumps({"action": action, "node": node_id, "voters": list(self.voters),
                           "learners": list(self.learners)}, sort_keys=True).encode()


def decode_change(data: bytes) -> tuple[str, str, Membership]:
    """``(action, node_id, resulting membership)`` of a config entry's data; ``ValueError`` if malformed."""
    try:
        change = json.loads(data)
        action, node_id = change["action"], change["node"]
        membership = Membership.of(change["voters"], change["learners"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"malformed config entry: {error}") from None
    if action not in CONF_ACTIONS or not isinstance(node_id, str):
        raise ValueError("malformed config entry")
    return action, node_id, membership


class MembershipLog:
    """The configuration in force at each log index: a base one (boot or snapshot) at ``base_index``
    and one per config entry after it."""

    def __init__(self, base: Membership, base_index: int):
        self._base = base
        self._base_index = base_index
        self._indexes: list[int] = []
        self._configs: list[Membership] = []

    @property
    def latest(self) -> Membership:
        """The newest configuration in the log (the one in force)."""
        return self._configs[-1] if self._configs else self._base

    @property
    def latest_index(self) -> int:
        """The index of the newest config entry, or the base index when there is none."""
        return self._indexes[-1] if self._indexes else self._base_index

    def append(self, index: int, membership: Membership) -> None:
        """Record the config entry at ``index`` (greater than any recorded)."""
        self._indexes.append(index)
        self._configs.append(membership)

    def truncate_from(self, index: int) -> None:
        """Forget config entries at ``index`` and after (the log was truncated there)."""
        keep = bisect.bisect_left(self._indexes, index)
        del self._indexes[keep:], self._configs[keep:]

    def at(self, index: int) -> Membership:
        """The configuration in force at ``index`` (``index`` >= the base index)."""
        position = bisect.bisect_right(self._indexes, index)
        return self._configs[position - 1] if position else self._base

    def compact(self, index: int) -> None:
        """Fold config entries up to ``index`` into the base (the log was compacted to ``index``)."""
        base = self.at(index)
        keep = bisect.bisect_right(self._indexes, index)
        del self._indexes[:keep], self._configs[:keep]
        self._base, self._base_index = base, index

    def reset(self, base: Membership, base_index: int) -> None:
        """Start over from a snapshot's configuration."""
        self.__init__(base, base_index)
