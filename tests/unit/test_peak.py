"""The windowed peak behind the queue gauges' ``_peak`` series (actors/common/peak.py)."""

from actors.common.peak import WindowPeak


def test_a_burst_between_two_scrapes_shows_for_one_to_two_windows_then_is_forgotten():
    peak = WindowPeak(window=15.0, now=100.0)
    assert peak.value(100.0) == 0
    peak.observe(7, 101.0)
    peak.observe(0, 101.5)  # drained before any scrape
    assert peak.value(110.0) == 7
    assert peak.value(116.0) == 7  # the window that saw it has ended: still within the last two
    peak.observe(2, 117.0)  # a new window starts at 115 and remembers the old one's 7
    assert peak.value(120.0) == 7
    assert peak.value(131.0) == 2  # 7's window lies more than one window back
    assert peak.value(146.0) == 0


def test_the_larger_of_a_later_burst_and_an_earlier_one_within_the_window_wins():
    peak = WindowPeak(window=10.0, now=0.0)
    peak.observe(3, 1.0)
    peak.observe(9, 2.0)
    peak.observe(4, 3.0)
    assert peak.value(5.0) == 9


def test_a_long_quiet_time_starts_afresh():
    peak = WindowPeak(window=10.0, now=0.0)
    peak.observe(5, 1.0)
    peak.observe(1, 100.0)
    assert peak.value(100.0) == 1
