"""The Raft member: a pure consensus core (core.py and its parts), durable log storage (storage.py),
the store state machine (store.py) and the actor doing the IO around them (member.py)."""
