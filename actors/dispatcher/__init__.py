"""The dispatcher: worker sessions, heartbeats, assignments and status batching."""
