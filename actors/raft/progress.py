"""The leader's view of one follower's log: how far it matches and how to send it more.

A follower is in one of three states (as in etcd-io/raft):

- ``probe``: we do not know where its log matches ours; send one append at a
  time and wait for the answer (or a heartbeat answer) before the next.
- ``replicate``: it matches up to ``match``; stream appends optimistically,
  moving ``next`` as we send, with at most ``max_inflight`` unanswered.
- ``snapshot``: it needs entries we compacted; a snapshot is on its way and
  nothing else is sent until the transfer is reported or answered.
"""

from __future__ import annotations

from collections import deque

PROBE, REPLICATE, SNAPSHOT = "probe", "replicate", "snapshot"


class Progress:
    """Replication state of one follower (or of the leader itself, where only ``match`` counts)."""

    def __init__(self, next_index: int, max_inflight: int, learner: bool = False):
        self.match = 0
        self.next = next_index
        self.state = PROBE
        self.learner = learner
        self.probe_sent = False
        self.pending_snapshot = 0
        self.recent_active = False
        self._max_inflight = max_inflight
        self._inflight: deque[int] = deque()

    def become_probe(self) -> None:
        """Go back to probing from just after what we know matches (or the snapshot we sent)."""
        if self.state == SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self._reset(PROBE)

    def become_replicate(self) -> None:
        """The follower's log matches at ``match``: stream from there."""
        self.next = self.match + 1
        self._reset(REPLICATE)

    def become_snapshot(self, snapshot_index: int) -> None:
        """A snapshot ending at ``snapshot_index`` is being sent."""
        self._reset(SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def _reset(self, state: str) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self._inflight.clear()

    def maybe_update(self, index: int) -> bool:
        """The follower's log matches ours up to ``index``; True if that is news."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def sent_append(self, last_index: int, has_entries: bool) -> None:
        """An append ending at ``last_index`` went out."""
        if self.state == REPLICATE and has_entries:
            self.next = last_index + 1
            self._inflight.append(last_index)
        elif self.state == PROBE:
            self.probe_sent = True

    def acknowledged(self, index: int) -> None:
        """Appends up to ``index`` were answered: free their in-flight slots."""
        while self._inflight and self._inflight[0] <= index:
            self._inflight.popleft()

    def free_one_inflight(self) -> None:
        """Let one more append out of a full window (after a heartbeat answer: appends may be lost)."""
        if self._inflight:
            self._inflight.popleft()

    def maybe_decrease_to(self, rejected: int, hint: int) -> bool:
        """The follower refused the append after ``rejected``; try ``hint`` + 1 next.

        False when the refusal is stale (answers an older probe or a position we
        know matches), so it must be ignored.
        """
        if self.state == REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        """True when no append should be sent now."""
        if self.state == PROBE:
            return self.probe_sent
        if self.state == REPLICATE:
            return len(self._inflight) >= self._max_inflight
        return True

    def to_dict(self) -> dict:
        """For status reports."""
        return {"match": self.match, "next": self.next, "state": self.state, "learner": self.learner,
                "inflight": len(self._inflight), "recent_active": self.recent_active}
