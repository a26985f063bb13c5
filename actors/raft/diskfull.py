"""What a Raft member does while it cannot write its log (a full disk), as plain decisions.

A member that cannot persist must not acknowledge or vote: the member drops
the messages of a Ready it failed to save, and the core hands the Ready's
entries and hard state out again (``RaftCore.persist_failed``), so every
later pass retries the write. Meanwhile:

- proposals to it, when it leads, are refused with ``disk_full`` (one clear
  line for the CLI) instead of waiting out a timeout;
- a leader hands leadership to another voter, if there is one, so the
  cluster keeps taking writes;
- it logs one line when writing fails and one when it succeeds again, and
  keeps serving reads and heartbeats (neither writes to disk).
"""

from __future__ import annotations

import sqlite3

from actors.common.outage import Outage

# Errors of a write that may succeed later (no space, quota); anything else still stops the member.
WRITE_ERRORS = (sqlite3.OperationalError, OSError)


class DiskState(Outage):
    """Whether the member's last write failed, and why."""

    def refusal(self, node_id: str, directory: str) -> str:
        """The one-line error a refused proposal carries."""
        return (f"manager {node_id} cannot write its Raft log ({self.error}): "
                f"free space under {directory}; writes resume by themselves")


def transfer_target(me: str, voters: tuple[str, ...], reachable: set[str]) -> str | None:
    """The voter a leader that cannot write should hand leadership to: a reachable one other than
    itself (the first by id, so repeated calls agree), or None when there is none."""
    candidates = sorted(voter for voter in voters if voter != me and voter in reachable)
    return candidates[0] if candidates else None
