"""Several accounts and strategies in one desk: books, shared capital, portfolio-level risk, the
journal partition per account (SQLite and PostgreSQL), and the config without an accounts section."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from execution.accounts import reader as account_reader
from execution.accounts.books import TradingState
from execution.journal_reader import JournalReader
from kimera.config import ExecutionConfig, load_config
from kimera.settings import Settings
from tests.execution.accounts.desks import T0, paper_desk, rows, signal
from tests.support.servers import postgres  # noqa: F401  (fixture)

TWO_STRATEGIES = {
    "accounts": [
        {
            "name": "fund",
            "capital": 100_000,
            "risk": {"max_position_notional": 30_000, "max_order_notional": 40_000},
            "portfolio": {
                "max_gross_notional": 100_000,
                "max_net_notional": 100_000,
                "max_correlated_notional": 100_000,
            },
        }
    ],
    "strategies": [
        {"name": "lstm_btc", "account": "fund", "capital_share": 0.5},
        {"name": "tf_eth", "account": "fund", "capital_share": 0.5},
    ],
}


def test_without_an_accounts_section_one_default_account_trades(tmp_path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with paper_desk(url, {}) as pd:
        fan = pd.signal(signal("s1"), T0)
        fills = pd.settle(T0 + 1)
    assert [d.account for d in fan.decisions] == ["default"] and fan.orders
    assert fills and all(f.client_order_id == fan.orders[0].client_order_id for f in fills)
    assert rows(url, "SELECT DISTINCT account, strategy FROM account_orders") == [("default", "default")]
    # the project's own kimera.yaml (no accounts section) still loads
    assert load_config("kimera.yaml").execution.accounts == []


def test_two_strategies_share_one_accounts_capital_and_each_order_names_its_strategy(tmp_path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with paper_desk(url, TWO_STRATEGIES) as pd:
        pd.signal(signal("b1", "BTC", strategy="lstm_btc"), T0)
        pd.signal(signal("e1", "ETH", strategy="tf_eth"), T0)
        pd.settle(T0 + 1)
        fund = pd.desk.accounts["fund"]
        marks = pd.marks(T0 + 1)
        btc = fund.books["lstm_btc"].portfolio.quantity("BTC")
        eth = fund.books["tf_eth"].portfolio.quantity("ETH")
    # each book holds its own asset, sized to half the capital (50k), capped by the account's 30k limit
    assert fund.books["lstm_btc"].portfolio.quantity("ETH") == 0 and btc > 0 and eth > 0
    assert float(btc) * marks["BTC"] == pytest.approx(30_000, rel=0.01)
    assert float(eth) * marks["ETH"] == pytest.approx(30_000, rel=0.01)
    reader = JournalReader(url)
    try:
        fills = account_reader.account_fills(reader, "fund")
        assert {(f["symbol"], f["strategy"]) for f in fills} == {
            ("BTC/USDT", "lstm_btc"),
            ("ETH/USDT", "tf_eth"),
        }
        assert sum(f["amount"] for f in fills if f["symbol"] == "BTC/USDT") == btc
        assert account_reader.accounts(reader) == ["fund"]
        orders = account_reader.account_orders(reader, "fund")
        # both decided at the same instant: their order in the journal is by id, not by arrival
        assert sorted((o["strategy"], o["symbol"], o["side"]) for o in orders) == [
            ("lstm_btc", "BTC/USDT", "buy"),
            ("tf_eth", "ETH/USDT", "buy"),
        ]
        assert sum(f["amount"] for f in fills if f["client_order_id"] == orders[1]["client_order_id"]) == eth
    finally:
        reader.close()


def test_gross_net_and_correlated_exposure_refuse_the_order_that_would_break_them(tmp_path):
    def run(portfolio: dict) -> list[str | None]:
        cfg = json.loads(json.dumps(TWO_STRATEGIES))
        cfg["accounts"][0]["portfolio"].update(portfolio)
        url = f"sqlite:///{tmp_path / f'j{len(list(tmp_path.iterdir()))}.sqlite'}"
        with paper_desk(url, cfg) as pd:
            first = pd.signal(signal("b1", "BTC", strategy="lstm_btc"), T0)
            pd.settle(T0 + 1)
            second = pd.signal(signal("e1", "ETH", strategy="tf_eth"), T0 + 1)
        assert first.orders  # the first strategy alone is within every limit
        logged = rows(url, "SELECT rule FROM account_refusals WHERE account = 'fund'")
        assert [r[0] for r in logged] == [d.refusal.rule for d in second.refused]
        return [d.refusal.rule if d.refusal else None for d in second.decisions]

    assert run({"max_gross_notional": 45_000}) == ["gross_exposure"]
    assert run({"max_net_notional": 45_000}) == ["net_exposure"]
    # 30k + 30k of two assets moving together is ~58.9k at correlation 0.93; ~42.4k if unrelated
    assert run({"max_correlated_notional": 50_000, "correlations": {"BTC/ETH": 0.93}}) == [
        "correlated_exposure"
    ]
    assert run({"max_correlated_notional": 50_000, "correlations": {"BTC/ETH": 0.0}}) == [None]


def test_drawdown_from_the_high_water_mark_makes_the_account_reduce_only_then_paused(tmp_path):
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    cfg = {"accounts": [{"name": "fund", "capital": 100_000, "portfolio": {"drawdown_reduce_only": 0.05, "drawdown_pause": 0.10}}]}  # fmt: skip
    with paper_desk(url, cfg) as pd:
        pd.signal(signal("b1"), T0)
        pd.settle(T0 + 1)
        fund = pd.desk.accounts["fund"]
        price = pd.marks(T0 + 1)["BTC"]
        held = float(fund.exposure("BTC")) * price  # 50k long
        pd.desk.mark({"BTC": price * (1 - 0.07 * 100_000 / held)}, T0 + 2)  # 7% below the high-water mark
        assert fund.state is TradingState.REDUCE_ONLY
        more = pd.desk.decide(signal("b2", forecast=0.004), {"BTC": price}, T0 + 2)
        assert [d.refusal.rule for d in more.refused] == ["drawdown_reduce_only"]
        pd.desk.mark({"BTC": price * (1 - 0.12 * 100_000 / held)}, T0 + 3)
        assert fund.state is TradingState.PAUSED
        flat = pd.desk.decide(signal("b3", forecast=0.0), {"BTC": price}, T0 + 3)
        assert [d.refusal.rule for d in flat.refused] == ["drawdown_pause"]
        pd.desk.mark({"BTC": price * (1 - 0.06 * 100_000 / held)}, T0 + 4)
        assert fund.state is TradingState.REDUCE_ONLY  # partly recovered: reducing is allowed again
        out = pd.desk.decide(signal("b4", forecast=0.0), {"BTC": price}, T0 + 4)
        assert out.orders and out.orders[0].side.value == "sell"


def test_venue_credentials_come_from_secrets_and_never_show(tmp_path, monkeypatch):
    secret = "acct-secret-9f8e7d6c5b4a"
    monkeypatch.setenv("KIMERA_SECRET_FUND_API_KEY", secret)
    cfg = {"accounts": [{"name": "fund", "api_keys": ["fundkey"], "credentials": "fund"}, {"name": "other"}]}
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with paper_desk(url, cfg, Settings()) as pd:
        creds = pd.desk.credentials("fund")
        assert creds["api_key"].get_secret_value() == secret and creds["secret"] is None
        assert secret not in repr(creds) and secret not in repr(pd.desk.accounts["fund"].config)
        assert pd.desk.account_for_key("fundkey") == "fund" and pd.desk.account_for_key("local") is None
        pd.signal(signal("b1"), T0)
        pd.settle(T0 + 1)
        assert secret not in json.dumps(pd.desk.summary(pd.marks(T0 + 1)), default=str)
    assert secret.encode() not in (tmp_path / "journal.sqlite").read_bytes()


def test_config_errors_name_the_account_or_strategy_that_is_wrong():
    with pytest.raises(ValidationError, match="strategy 'x': account 'ghost' is not one of"):
        ExecutionConfig(strategies=[{"name": "x", "account": "ghost"}])
    with pytest.raises(ValidationError, match="leader strategy 'nope' is not one of"):
        ExecutionConfig(accounts=[{"name": "a"}], followers=[{"follower": "a", "leader": "nope"}])
    with pytest.raises(ValidationError, match="account names must be unique"):
        ExecutionConfig(accounts=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValidationError, match="drawdown_pause"):
        ExecutionConfig(accounts=[{"name": "a", "portfolio": {"drawdown_pause": 0.02}}])


def test_the_account_partition_lives_in_a_postgresql_journal_too(postgres):  # noqa: F811
    url = postgres.url(postgres.create_database("accounts"))
    with paper_desk(url, TWO_STRATEGIES) as pd:
        pd.signal(signal("b1", "BTC", strategy="lstm_btc"), T0)
        fills = pd.settle(T0 + 1)
    reader = JournalReader(url)
    try:
        got = account_reader.account_fills(reader, "fund")
    finally:
        reader.close()
    assert fills and [(f["fill_id"], f["amount"], f["strategy"]) for f in got] == [
        (f.fill_id, f.amount, "lstm_btc") for f in fills
    ]
    assert isinstance(got[0]["price"], Decimal)


def test_an_asset_filter_sends_each_assets_signals_to_its_own_strategy(tmp_path):
    from execution.accounts.desk import UnknownStrategy

    filtered = {
        **TWO_STRATEGIES,
        "strategies": [
            {"name": "lstm_btc", "account": "fund", "capital_share": 0.5, "assets": ["BTC"]},
            {"name": "tf_eth", "account": "fund", "capital_share": 0.5, "assets": ["ETH"]},
        ],
    }
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    with paper_desk(url, filtered) as pd:
        # the same model tag and horizon: only the asset tells the strategies apart
        btc = pd.signal(signal("b1", "BTC"), T0)
        eth = pd.signal(signal("e1", "ETH"), T0)
        assert (btc.strategy, eth.strategy) == ("lstm_btc", "tf_eth")
        with pytest.raises(UnknownStrategy, match=r"strategy 'tf_eth' trades only \['ETH'\], not 'BTC'"):
            pd.desk.strategy_for(signal("b2", "BTC", strategy="tf_eth"))
        with pytest.raises(UnknownStrategy, match="no strategy takes .* asset 'SOL'"):
            pd.desk.strategy_for(signal("s1", "SOL"))
    assert rows(url, "SELECT strategy, asset FROM account_orders ORDER BY asset") == [
        ("lstm_btc", "BTC"),
        ("tf_eth", "ETH"),
    ]
    with pytest.raises(ValidationError, match="assets"):
        ExecutionConfig(strategies=[{"name": "none", "assets": []}])
