"""The orchestrator: keeps each service's tasks true to its spec (reconcile, restart policy, task history)."""
