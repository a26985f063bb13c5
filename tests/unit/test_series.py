"""Labelled series that start at 0 and go without error (actors/common/series.py)."""

from prometheus_client import CollectorRegistry, Counter

from actors.common.series import remove_series, start_at_zero


def test_every_combination_starts_at_zero_and_a_removed_or_absent_series_is_no_error():
    registry = CollectorRegistry()
    counter = Counter("s8_probe_total", "probe", ["kind", "outcome"], registry=registry)
    start_at_zero(counter, ["a", "b"], ["ok", "error"])
    assert {(s.labels["kind"], s.labels["outcome"]): s.value for s in next(iter(registry.collect())).samples
            if s.name == "s8_probe_total"} == {("a", "ok"): 0, ("a", "error"): 0, ("b", "ok"): 0, ("b", "error"): 0}
    remove_series(counter, "a", "ok")
    remove_series(counter, "a", "ok")  # already gone
    assert registry.get_sample_value("s8_probe_total", {"kind": "a", "outcome": "ok"}) is None
    assert registry.get_sample_value("s8_probe_total", {"kind": "b", "outcome": "ok"}) == 0
