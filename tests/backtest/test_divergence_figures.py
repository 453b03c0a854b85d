"""The comparison's figures and what ``--against-journal`` prints: the bars decided differently are
named, so a reader can look at them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from backtest.divergence import Decision, JournalWindow, compare, lines, sizing_note

T = datetime(2026, 3, 31, 5)


def test_the_bars_decided_differently_are_named_and_fills_compared_where_both_filled() -> None:
    journal = [
        Decision("BTC", T, "buy", 0.2, 100_000.0),
        Decision("ETH", T, "sell", 2.0, 3_000.0),
        Decision("ETH", T + timedelta(hours=1), "none"),
    ]
    backtest = {
        ("BTC", T): Decision("BTC", T, "buy", 0.2, 100_010.0),  # 1 bp dearer
        ("ETH", T): Decision("ETH", T, "none"),
    }  # the last bar is missing from the backtest: it did nothing there
    figures = compare(journal, backtest)
    assert figures["same_decision"] == pytest.approx(2 / 3)
    assert figures["compared_fills"] == 1
    assert figures["median_fill_diff_bp"] == pytest.approx(1.0)
    assert figures["pnl_difference"] == pytest.approx((100_000.0 - 100_010.0) * 0.2)
    assert figures["different"] == ["ETH 2026-03-31 05:00 journal sell, backtest none"]
    text = "\n".join(lines(figures, "journal.sqlite"))
    assert "same decision in 66.7% of bars" in text
    assert "decided differently: ETH 2026-03-31 05:00 journal sell, backtest none" in text


def test_a_long_list_of_differences_is_cut_short_with_a_count() -> None:
    journal = [Decision("BTC", T + timedelta(hours=h), "buy", 1.0, 1.0) for h in range(8)]
    figures = compare(journal, {})
    text = "\n".join(lines(figures, "j", shown=5))
    assert "; and 3 more" in text and text.count("journal buy, backtest none") == 5


def test_a_journal_of_strategies_the_config_lacks_is_flagged_with_what_to_pass() -> None:
    window = JournalWindow([], "m", T, T, frozenset({"fund_btc", "fund_eth"}))
    note = sizing_note(window, [])
    assert note is not None and "['fund_btc', 'fund_eth']" in note and "--config" in note
    assert sizing_note(window, ["fund_btc", "fund_eth"]) is None
    assert sizing_note(JournalWindow([], "m", T, T, frozenset({"default"})), []) is None
