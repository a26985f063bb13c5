"""Where a task may go and where it goes best: node filters, node load and spread ranking.

Shared by the scheduler (placing pending tasks) and the orchestrator's
rebalancer (finding tasks the spread would now place elsewhere).
"""
