"""The Raft member.

- ``core.py``: the pure consensus core (no IO), built from ``values.py`` (entries, messages, Ready,
  config), ``log.py`` (the in-memory log and its marks), ``progress.py`` (the leader's view of each
  follower), ``readonly.py`` (read-index rounds) and ``membership.py`` (configurations over the log).
- ``storage.py``: durable hard state, log and snapshots in SQLite.
- ``store.py``: the replicated state machine; ``member.py``: the actor doing the IO around them.
"""
