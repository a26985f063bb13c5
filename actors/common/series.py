"""Helpers for labelled Prometheus series that come and go with what they describe."""

from __future__ import annotations

import itertools


def remove_series(metric, *labels: str) -> None:
    """Remove ``metric``'s series of ``labels`` if it exists (a removed service, a lease lost)."""
    try:
        metric.remove(*labels)
    except KeyError:
        pass


def start_at_zero(metric, *values) -> None:
    """Create ``metric``'s series at 0 for every combination of the label values given (one iterable per
    label, in the metric's label order), so that zero reads 0, not "no data", and ``rate()`` sees the
    first event."""
    for labels in itertools.product(*values):
        metric.labels(*labels)
