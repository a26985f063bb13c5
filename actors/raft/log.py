"""The Raft log as one member holds it in memory, with its persistence and apply marks.

The log holds every entry after the latest snapshot (``offset``, the index
the snapshot covers; ``offset_term``, its term). Marks, all indexes:

- ``persisting``: entries up to here were handed to the caller to persist;
  later ones are *unstable* and go out in the next Ready.
- ``stable``: entries up to here are known to be on disk (the caller advanced
  the Ready that carried them).
- ``committed``: known committed (Raft §5.3); never above the last index.
- ``applying``: committed entries up to here were handed to the caller to apply.
- ``applied``: the caller applied entries (or a snapshot) up to here.
"""

from __future__ import annotations

from actors.raft.values import Entry


class RaftLog:
    """Entries after the snapshot at ``offset`` plus the marks above."""

    def __init__(self, offset: int, offset_term: int, entries: list[Entry], committed: int):
        expected = offset + 1
        for entry in entries:
            if entry.index != expected:
                raise ValueError(f"entries must follow the snapshot without gaps: got {entry.index}, want {expected}")
            expected += 1
        self.offset = offset
        self.offset_term = offset_term
        self._entries = list(entries)
        if not offset <= committed <= self.last_index:
            raise ValueError(f"commit index {committed} outside [{offset}, {self.last_index}]")
        self.committed = committed
        self.applied = offset
        self.applying = offset
        self.stable = self.last_index
        self.persisting = self.last_index

    # -- reading -------------------------------------------------------------
    @property
    def first_index(self) -> int:
        """The first index held in memory (after the snapshot)."""
        return self.offset + 1

    @property
    def last_index(self) -> int:
        """The index of the last entry (the snapshot's when there is none after it)."""
        return self.offset + len(self._entries)

    @property
    def last_term(self) -> int:
        """The term of the last entry."""
        return self._entries[-1].term if self._entries else self.offset_term

    def term(self, index: int) -> int | None:
        """The term at ``index`` (0 before the first entry); None when compacted away or beyond the end."""
        if index == self.offset:
            return self.offset_term
        if index < self.offset or index > self.last_index:
            return None
        return self._entries[index - self.offset - 1].term

    def matches(self, index: int, term: int) -> bool:
        """True when the log has an entry at ``index`` with ``term``."""
        return self.term(index) == term

    def entries_from(self, index: int, max_count: int) -> list[Entry]:
        """Up to ``max_count`` entries starting at ``index`` (>= first_index)."""
        start = index - self.offset - 1
        return self._entries[start:start + max_count]

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """§5.4.1: is a log ending at (last_index, last_term) at least as up to date as this one?"""
        return last_term > self.last_term or (last_term == self.last_term and last_index >= self.last_index)

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest index <= ``index`` whose term is <= ``term`` (or the first unknown one, the offset).

        Entries after it and up to ``index`` have terms above ``term``, so they
        cannot match a log whose entry at ``index`` has ``term``: the leader can
        skip them all in one round trip (fast back-tracking, §5.3).
        """
        index = min(index, self.last_index)
        while index > self.offset and self._entries[index - self.offset - 1].term > term:
            index -= 1
        return index

    # -- writing -------------------------------------------------------------
    def append(self, entries: list[Entry]) -> None:
        """Append entries that follow the last index (the leader's own proposals)."""
        for entry in entries:
            if entry.index != self.last_index + 1:
                raise ValueError(f"entry {entry.index} does not follow {self.last_index}")
            self._entries.append(entry)

    def try_append(self, prev_index: int, prev_term: int, entries: list[Entry]) -> tuple[int | None, int | None]:
        """§5.3 AppendEntries on a follower: if the log matches at (prev_index, prev_term), keep the
        entries that agree, truncate at the first conflict and append the rest.

        Returns ``(last_new_index, first_written_index)``: ``last_new_index`` is
        None when the log does not match (reject; also when ``prev_index`` was
        compacted away: the caller answers those from its commit index);
        ``first_written_index`` is None when nothing was written. ``ValueError``
        if the entries do not follow ``prev_index`` or would overwrite a
        committed entry.
        """
        for position, entry in enumerate(entries):
            if entry.index != prev_index + 1 + position:
                raise ValueError("append entries are not contiguous after the previous index")
        if not self.matches(prev_index, prev_term):
            return None, None
        last_new = prev_index + len(entries)
        for entry in entries:
            known = self.term(entry.index)
            if known == entry.term:
                continue
            if known is not None:
                if entry.index <= self.committed:
                    raise ValueError(f"append would overwrite committed entry {entry.index}")
                self._truncate_from(entry.index)
            self._entries.extend(entries[entry.index - prev_index - 1:])
            return last_new, entry.index
        return last_new, None

    def _truncate_from(self, index: int) -> None:
        del self._entries[index - self.offset - 1:]
        self.persisting = min(self.persisting, index - 1)
        self.stable = min(self.stable, index - 1)

    def commit_to(self, index: int) -> bool:
        """Raise the commit index to ``index`` (capped at the last index); True if it moved."""
        index = min(index, self.last_index)
        if index > self.committed:
            self.committed = index
            return True
        return False

    def restore(self, index: int, term: int) -> None:
        """Replace the whole log by a received snapshot ending at (index, term)."""
        self.offset, self.offset_term = index, term
        self._entries = []
        self.committed = index
        self.persisting = self.stable = index
        self.applying = max(self.applying, index)

    def compact(self, index: int) -> None:
        """Drop entries up to ``index`` (applied, covered by a snapshot the caller took)."""
        if not self.offset < index <= self.applied:
            raise ValueError(f"can compact only applied entries after {self.offset}, got {index}")
        self.offset_term = self.term(index)
        del self._entries[:index - self.offset]
        self.offset = index

    # -- handing work to the caller -------------------------------------------
    def take_unstable(self) -> list[Entry]:
        """Entries not yet handed out for persisting; they count as handed out from now on."""
        entries = self._entries[self.persisting - self.offset:]
        self.persisting = self.last_index
        return entries

    def has_unstable(self) -> bool:
        """True when some entries were not handed out for persisting yet."""
        return self.persisting < self.last_index

    def stable_to(self, persisted: list[Entry]) -> None:
        """The caller persisted ``persisted``: mark the ones still in the log (same term) as stable."""
        for entry in reversed(persisted):
            if self.matches(entry.index, entry.term):
                self.stable = max(self.stable, entry.index)
                return

    def take_committed(self) -> list[Entry]:
        """Committed entries not yet handed out for applying; they count as handed out from now on."""
        start = max(self.applying, self.applied)
        if self.committed <= start:
            return []
        entries = self._entries[start - self.offset:self.committed - self.offset]
        self.applying = self.committed
        return entries

    def has_committed(self) -> bool:
        """True when committed entries wait to be handed out for applying."""
        return self.committed > max(self.applying, self.applied)

    def applied_to(self, index: int) -> None:
        """The caller applied everything up to ``index``."""
        self.applied = max(self.applied, index)
