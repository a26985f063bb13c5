"""Simulated worker nodes: many real nodes in one process, each running the real executor over an
in-memory engine (actors/executor/simengine.py). See hosts.py (identities) and run.py (the process)."""
