"""The shoal command: docker swarm|node|service verbs for a Shoal cluster."""
