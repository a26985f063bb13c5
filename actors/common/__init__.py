"""What every actor shares: host configuration, logging, metrics, store client and views."""
