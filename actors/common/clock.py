"""The cluster clock: the one time line that leases, restart delays and store timestamps follow.

Wall clocks jump (an operator, NTP stepping, a VM resumed); one manager's jump
must not expire every lease at once, keep a dead holder's lease alive for
minutes, or cut a restart delay short. So the store's time is not any host's
wall clock:

- :class:`LeaderClock` is what a Raft leader stamps on the entries it
  proposes. When a member becomes leader it anchors the clock at the later of
  the last applied entry's time plus the monotonic time elapsed since it was
  applied (entries of the previous leader not yet applied here were stamped
  within that time) and its own wall clock (a cluster restarted after a day
  resumes near real time); from then on the clock advances with the leader's
  *monotonic* clock alone, so a wall-clock jump on the leader changes
  nothing, and the times it stamps never go backwards. A leader elected
  while its wall clock runs ahead moves the cluster's time forward once: the
  leases then look expired (their holders renew them; fencing keeps every
  write safe) and pending restart delays end early. It never moves it back.
- :class:`ViewClock` is the store's time as an actor's view knows it: the
  time of the last batch it applied plus the local monotonic time elapsed
  since. Controllers judge lease expiry and restart deadlines with it, never
  with their own wall clock.

Both take the current monotonic (and wall) time as arguments: no clock is
read here.
"""

from __future__ import annotations


class LeaderClock:
    """Entry times for a member: anchored when it becomes leader, then monotonic."""

    def __init__(self) -> None:
        self.last_applied = 0.0  # time of the newest entry applied to the store
        self._applied_at = 0.0  # monotonic time when it was applied
        self._anchor: tuple[float, float] | None = None  # (cluster time, monotonic time) while leading

    def applied(self, entry_time: float, monotonic: float) -> None:
        """Record that an entry stamped ``entry_time`` was applied to the store at ``monotonic``."""
        if entry_time >= self.last_applied:
            self.last_applied, self._applied_at = entry_time, monotonic

    def lead(self, wall: float, monotonic: float) -> None:
        """Start stamping at ``monotonic``: anchor at the later of the last applied entry's time plus the
        monotonic time since it was applied, and ``wall``."""
        self._anchor = (max(self.last_applied + (monotonic - self._applied_at), wall), monotonic)

    def follow(self) -> None:
        """Stop stamping (this member no longer leads)."""
        self._anchor = None

    def now(self, monotonic: float) -> float:
        """The time to stamp on an entry proposed at ``monotonic``: never before the last applied
        entry's time; while not leading (no anchor) that time itself."""
        if self._anchor is None:
            return self.last_applied
        anchor_time, anchor_monotonic = self._anchor
        return max(self.last_applied, anchor_time + (monotonic - anchor_monotonic))


class ViewClock:
    """Another process's clock seen from here (the store's, from a view; the Docker engine's): the last
    time it reported plus the local monotonic time since."""

    def __init__(self) -> None:
        self._seen: tuple[float, float] | None = None  # (batch time, monotonic time it was applied)

    def observed(self, batch_time: float, monotonic: float) -> None:
        """Record that the other clock said ``batch_time`` (a batch's stamp) at ``monotonic``."""
        self._seen = (batch_time, monotonic)

    def now(self, monotonic: float, wall: float) -> float:
        """The other clock's time at ``monotonic``; ``wall`` until it is first observed."""
        if self._seen is None:
            return wall
        batch_time, seen_at = self._seen
        return batch_time + (monotonic - seen_at)
