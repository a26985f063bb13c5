"""Helpers for labelled Prometheus series that come and go with what they describe."""

from __future__ import annotations


def remove_series(metric, *labels: str) -> None:
    """Remove ``metric``'s series of ``labels`` if it exists (a removed service, a lease lost)."""
    try:
        metric.remove(*labels)
    except KeyError:
        pass
