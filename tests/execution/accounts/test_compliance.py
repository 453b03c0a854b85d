"""Pre-trade compliance: restricted instruments, self-trade prevention across our accounts, order and
message rates per account, the daily loss stop; every refusal journaled with its rule."""

from __future__ import annotations

from tests.execution.accounts.desks import T0, paper_desk, rows, signal


def _two_accounts(**compliance) -> dict:
    return {
        "accounts": [{"name": "a", "compliance": compliance}, {"name": "b", "compliance": compliance}],
        "strategies": [
            {"name": "sa", "account": "a"},
            {"name": "sb", "account": "b"},
            {"name": "sa_eth", "account": "a"},
        ],  # fmt: skip
    }


def _journaled(url: str) -> list[tuple[str, str, str]]:
    return rows(url, "SELECT account, rule, signal_id FROM account_refusals ORDER BY seq")


def test_a_restricted_instrument_is_refused_for_every_account_and_follower(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    cfg = _two_accounts()
    cfg["compliance"] = {"restricted": ["ETH"]}
    cfg["followers"] = [{"follower": "b", "leader": "sa_eth"}]
    with paper_desk(url, cfg) as pd:
        eth = pd.signal(signal("e1", "ETH", strategy="sa_eth"), T0)
        btc = pd.signal(signal("b1", "BTC", strategy="sa"), T0)
    assert [(d.account, d.refusal.rule) for d in eth.decisions] == [("a", "restricted_instrument"), ("b", "restricted_instrument")]  # fmt: skip
    assert "ETH is on the restricted list" in eth.decisions[0].detail
    assert btc.orders
    assert _journaled(url) == [("a", "restricted_instrument", "e1"), ("b", "restricted_instrument", "e1")]


def test_an_order_that_would_cross_another_of_our_accounts_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with paper_desk(url, _two_accounts()) as pd:
        buy = pd.signal(signal("a1", strategy="sa"), T0)  # a's buy is live at the venue
        sell = pd.signal(signal("b1", forecast=-0.003, strategy="sb"), T0)
        assert buy.orders and [d.refusal.rule for d in sell.decisions] == ["self_trade"]
        assert buy.orders[0].client_order_id in sell.decisions[0].detail
        pd.settle(T0 + 1)  # a's order is done: nothing of ours rests any more
        again = pd.signal(signal("b2", forecast=-0.003, strategy="sb"), T0 + 1)
    assert again.orders and again.orders[0].side.value == "sell"
    assert _journaled(url) == [("b", "self_trade", "b1")]


def test_order_rate_per_account(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    cfg = _two_accounts(max_orders_per_s=1)
    cfg["accounts"][0]["portfolio"] = {"max_net_notional": 100_000}
    with paper_desk(url, cfg) as pd:
        first = pd.signal(signal("1", "BTC", strategy="sa"), T0)
        second = pd.signal(signal("2", "ETH", strategy="sa_eth"), T0)
        other = pd.signal(signal("3", "ETH", strategy="sb"), T0)  # another account has its own budget
        later = pd.signal(signal("4", "ETH", strategy="sa_eth"), T0 + 1)
    assert first.orders and other.orders and later.orders
    assert [d.refusal.rule for d in second.decisions] == ["order_rate"]
    assert _journaled(url) == [("a", "order_rate", "2")]


def test_message_rate_per_account_counts_decisions_that_send_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    with paper_desk(url, _two_accounts(max_messages_per_s=2)) as pd:
        flat = [pd.signal(signal(f"f{i}", forecast=0.0, strategy="sa"), T0) for i in range(2)]
        third = pd.signal(signal("f2", strategy="sa"), T0)
        fourth = pd.signal(signal("f3", strategy="sa"), T0 + 1)
    assert [d.outcome for f in flat for d in f.decisions] == ["no_change", "no_change"]
    assert [d.refusal.rule for d in third.decisions] == ["message_rate"]
    assert fourth.orders
    assert _journaled(url) == [("a", "message_rate", "f2")]


def test_the_daily_loss_stop_lets_only_reducing_orders_through(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    cfg = {"accounts": [{"name": "a", "compliance": {"daily_loss_stop": 200}}], "strategies": [{"name": "sa", "account": "a"}]}  # fmt: skip
    with paper_desk(url, cfg) as pd:
        pd.signal(signal("2"), T0)
        pd.settle(T0 + 1)
        price = pd.marks(T0 + 1)["BTC"]
        held = pd.desk.accounts["a"].exposure("BTC")
        loss_price = price - 300 / held  # 300 quote lost today
        more = pd.desk.decide(signal("3", forecast=0.004), {"BTC": loss_price}, T0 + 2)
        out = pd.desk.decide(signal("4", forecast=0.0), {"BTC": loss_price}, T0 + 2)
        pd.journal.submit(pd.desk.statements(more, pd.journal)).result()
        # the next UTC day starts from its own mark: trading resumes
        next_day = pd.desk.decide(signal("5", forecast=0.004), {"BTC": loss_price}, T0 + 86_400)
    assert [d.refusal.rule for d in more.decisions] == ["daily_loss_stop"]
    assert "beyond the stop -200.00" in more.decisions[0].detail
    assert out.orders and out.orders[0].side.value == "sell"
    assert not next_day.refused
    assert _journaled(url) == [("a", "daily_loss_stop", "3")]
