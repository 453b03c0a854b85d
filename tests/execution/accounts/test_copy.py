"""Copy trading: a leader's signal fans out to its followers, each sized by its allocation rule and
checked against its own limits; a refusal stays the follower's; each fill traces to the leader's signal."""

from __future__ import annotations

import pytest

from execution.accounts import reader as account_reader
from execution.accounts.performance import max_drawdown, sharpe, tracking_error
from execution.journal_reader import JournalReader
from tests.execution.accounts.desks import T0, paper_desk, signal

RULES = ("equity_fraction", "fixed_notional", "risk_budget")


def _followers(n: int) -> dict:
    """Follower i: a rule in turn, limits that vary; every 7th has a tight gross limit it cannot meet."""
    accounts = [{"name": "lead", "capital": 200_000, "risk": {"max_position_notional": 40_000}}]
    followers = []
    for i in range(n):
        tight = i % 7 == 3
        accounts.append({
            "name": f"f{i:02d}", "capital": 10_000 + 1_000 * i,
            "risk": {"max_position_notional": 2_000 + 500 * (i % 9), "max_order_notional": 1_500 + 400 * (i % 5)},
            "portfolio": {"max_gross_notional": 50 if tight else 100_000},
        })  # fmt: skip
        rule = RULES[i % 3]
        value = {"equity_fraction": 0.5, "fixed_notional": 8_000, "risk_budget": 0.8}[rule]
        followers.append({"follower": f"f{i:02d}", "leader": "momentum", "rule": rule, "value": value})
    return {
        "accounts": accounts,
        "strategies": [{"name": "momentum", "account": "lead"}],
        "followers": followers,
    }


def test_one_leader_fifty_followers_fills_and_limits_for_each(tmp_path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    cfg = _followers(50)
    limits = {a["name"]: a for a in cfg["accounts"]}
    with paper_desk(url, cfg) as pd:
        fan = pd.signal(signal("lead-1"), T0)
        pd.settle(T0 + 1)
        marks = pd.marks(T0 + 1)
        desk = pd.desk
        by_account = {d.account: d for d in fan.decisions}
        assert len(fan.decisions) == 51
        assert by_account["lead"].order is not None and by_account["lead"].leader_signal_id is None
        reader = JournalReader(url)
        try:
            lead_fills = account_reader.account_fills(reader, "lead")
            assert lead_fills and all(f["signal_id"] == "lead-1" for f in lead_fills)
            for i in range(50):
                name = f"f{i:02d}"
                d = by_account[name]
                risk = limits[name]["risk"]
                fills = account_reader.account_fills(reader, name)
                position = desk.accounts[name].exposure("BTC") * marks["BTC"]
                if i % 7 == 3:  # its own gross limit refuses it; the leader and the others trade
                    assert d.refusal.rule == "gross_exposure" and not fills and position == 0
                    assert [r["rule"] for r in account_reader.account_refusals(reader, name)] == [
                        "gross_exposure"
                    ]
                    continue
                assert d.order is not None, (name, d.detail)
                assert fills, name
                # every fill traces to the leader's signal, through the follower's copy book
                assert {(f["leader_signal_id"], f["strategy"]) for f in fills} == {("lead-1", "momentum")}
                assert desk.accounts[name].books["copy:momentum"].portfolio.quantity("BTC") > 0
                # never beyond its own limits
                assert float(d.order.amount * d.order.limit_price) <= risk["max_order_notional"] + 1e-6
                assert position <= risk["max_position_notional"] * 1.01  # marked a second later
                assert account_reader.account_refusals(reader, name) == []
        finally:
            reader.close()


def test_allocation_rules_size_the_follower(tmp_path):
    cfg = {
        "accounts": [
            {"name": "lead", "capital": 100_000, "risk": {"max_position_notional": 50_000}},
            {"name": "frac", "capital": 20_000},
            {"name": "fixed", "capital": 20_000},
            {"name": "budget", "capital": 20_000, "risk": {"max_position_notional": 6_000}},
        ],
        "strategies": [{"name": "s", "account": "lead"}],
        "followers": [
            {"follower": "frac", "leader": "s", "rule": "equity_fraction", "value": 0.25},
            {"follower": "fixed", "leader": "s", "rule": "fixed_notional", "value": 8_000},
            {"follower": "budget", "leader": "s", "rule": "risk_budget", "value": 0.5},
        ],
    }
    with paper_desk(f"sqlite:///{tmp_path / 'j.sqlite'}", cfg) as pd:
        fan = pd.decide(signal("x"), T0)
    targets = {d.account: d.target for d in fan.decisions}
    # the leader holds 50k of 100k (weight 0.5, its whole position limit)
    assert targets == pytest.approx(
        {"lead": 50_000, "frac": 0.5 * 20_000 * 0.25, "fixed": 0.5 * 8_000, "budget": 3_000}
    )


def test_a_follower_of_an_account_copies_the_account_over_all_its_strategies(tmp_path):
    cfg = {
        "accounts": [
            {"name": "lead", "capital": 100_000, "portfolio": {"max_net_notional": 100_000}},
            {"name": "copy", "capital": 50_000},
        ],  # fmt: skip
        "strategies": [
            {"name": "a", "account": "lead", "capital_share": 0.5},
            {"name": "b", "account": "lead", "capital_share": 0.5},
        ],  # fmt: skip
        "followers": [
            {"follower": "copy", "leader": "lead", "leader_kind": "account", "rule": "equity_fraction"}
        ],
    }
    with paper_desk(f"sqlite:///{tmp_path / 'j.sqlite'}", cfg) as pd:
        one = pd.decide(signal("1", strategy="a"), T0)
        two = pd.decide(signal("2", strategy="b"), T0)
    # a: 50k of the account's 100k -> the follower holds half its equity; a and b together: all of it
    assert [d.target for d in one.decisions if d.account == "copy"] == pytest.approx([25_000])
    assert [d.target for d in two.decisions if d.account == "copy"] == pytest.approx([50_000])


def test_performance_per_leader_and_follower_on_the_status_summary(tmp_path):
    cfg = {
        "accounts": [
            {"name": "lead", "capital": 100_000},
            {"name": "half", "capital": 100_000},
            {"name": "same", "capital": 100_000},
        ],  # fmt: skip
        "strategies": [{"name": "s", "account": "lead"}],
        "followers": [
            {"follower": "half", "leader": "s", "rule": "equity_fraction", "value": 0.5},
            {"follower": "same", "leader": "s", "rule": "equity_fraction", "value": 1.0},
        ],
    }
    with paper_desk(f"sqlite:///{tmp_path / 'j.sqlite'}", cfg) as pd:
        pd.signal(signal("x"), T0)
        for k in range(1, 30):
            pd.settle(T0 + 60 * k)
        summary = pd.desk.summary(pd.marks(T0 + 60 * 29))
    followers = {f["follower"]: f for f in summary["followers"]}
    lead = summary["strategies"]["s"]
    assert lead["marks"] == 29 and lead["return"] is not None and lead["sharpe"] is not None
    # copying 1:1 tracks the leader far closer than copying at half size
    assert followers["same"]["tracking_error"] < followers["half"]["tracking_error"]
    assert summary["accounts"]["half"]["state"] == "ACTIVE"
    assert set(summary["accounts"]["half"]["positions"]) == {"copy:s"}


def test_performance_figures_by_hand():
    day = 86_400
    up_down = [(0, 100.0), (day, 110.0), (2 * day, 99.0), (3 * day, 108.9)]
    assert max_drawdown(up_down) == pytest.approx(0.1)
    # returns +10%, -10%, +10%: mean 1/30, stdev 0.11547 -> daily Sharpe 0.2887, x sqrt(365)
    assert sharpe(up_down) == pytest.approx((1 / 30) / 0.115470053 * 365**0.5, rel=1e-6)
    assert tracking_error(up_down, up_down) == 0
    assert sharpe(up_down[:2]) is None


def test_marks_follow_the_bar_clock_so_an_accelerated_day_annualises_per_bar() -> None:
    """The demo replays a day in minutes of wall time: marks taken at the signals' bar times keep the
    Sharpe annualised per hourly bar (not per second of wall time), and two assets' signals of the
    same bar make one mark, not a zero-length step."""
    from execution.accounts.books import _record
    from execution.accounts.service_bridge import _market_time

    equity = [100.0, 101.0, 100.5, 102.0, 101.0, 103.0]
    history: list[tuple[float, float]] = []
    for hour, value in enumerate(equity):
        at = _market_time(f"2026-01-01T{hour:02d}:00:00Z", fallback=1e9 + hour)
        _record(history, at, value - 0.25)  # the first asset's signal of the bar
        _record(history, at, value)  # the second asset's, at the same bar: replaces
    assert [e for _, e in history] == equity
    r = [b / a - 1 for a, b in zip(equity, equity[1:], strict=False)]
    mean = sum(r) / len(r)
    sd = (sum((x - mean) ** 2 for x in r) / (len(r) - 1)) ** 0.5
    assert sharpe(history) == pytest.approx(mean / sd * (365 * 24) ** 0.5, rel=1e-9)
    assert _market_time(None, fallback=7.0) == 7.0 and _market_time("not a time", fallback=7.0) == 7.0
