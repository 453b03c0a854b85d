"""The backtest sizes a decision for the strategy the execution service's desk gives it: that
strategy's sizing and share of its account's capital, and the account's per-order limit."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from backtest.books import book_for
from backtest.executor import Executor
from backtest.fills import BacktestJournal, BacktestVenues, Latency
from backtest.market import Market
from execution.accounts.desk import Desk
from execution.venues.base import MarketRules
from execution.venues.matching import PaperVenueSpec
from kimera.app.demo.accounts import demo_accounts
from kimera.config import KimeraConfig, load_config
from live.model import Prediction
from tests.backtest.test_fills import T0, rows
from tests.conftest import REPO_ROOT


def one_level_book(symbol: str, mid: float):
    """A snapshot of ``symbol`` at T0 on venue alpha, one deep level a side, 1 apart from ``mid``."""
    return rows(
        "order_book_snapshots",
        [{"venue": "alpha", "symbol": symbol, "ts": T0, "side": side, "level": 0, "price": price, "amount": 1e3}
         for side, price in (("bid", mid - 1), ("ask", mid + 1))],
    )  # fmt: skip


def demo_desk_config() -> KimeraConfig:
    """The repository's config with the demo's accounts: a fund of two strategies (60/40, the second
    twice as risk-averse) and three followers."""
    config = load_config(REPO_ROOT / "kimera.yaml")
    data = config.model_dump(mode="json")
    data["execution"] = {**data["execution"], **demo_accounts(config)}
    return KimeraConfig.model_validate(data)


def test_each_asset_is_sized_for_its_strategy_with_its_share_of_the_accounts_capital() -> None:
    config = demo_desk_config()
    capital = config.execution.sizing.capital
    eth = book_for(config, "ETH", "kimera-ensemble:x", 1)
    btc = book_for(config, "BTC", "kimera-ensemble:x", 1)
    assert (btc.name, eth.name) == ("fund_btc", "fund_eth")
    assert btc.sizing.capital == pytest.approx(0.6 * capital)
    assert eth.sizing.capital == pytest.approx(0.4 * capital)
    assert eth.sizing.risk_aversion == 2 * btc.sizing.risk_aversion
    # with no accounts or strategies configured, the service's implicit default book
    plain = load_config(REPO_ROOT / "kimera.yaml")
    default = book_for(plain, "ETH", None, 1)
    assert default.sizing == plain.execution.sizing and default.risk == plain.execution.risk


def test_a_signal_no_strategy_takes_is_refused_naming_the_strategies() -> None:
    config = demo_desk_config()
    data = config.model_dump(mode="json")
    data["execution"]["strategies"] = [s for s in data["execution"]["strategies"] if s["name"] == "fund_btc"]
    only_btc = KimeraConfig.model_validate(data)
    with pytest.raises(ValueError, match=r"asset 'ETH'.*strategies: \['fund_btc'\]"):
        book_for(only_btc, "ETH", "m", 1)


@pytest.mark.parametrize("asset,forecast", [("ETH", 0.05), ("ETH", 0.0035), ("BTC", -0.05), ("BTC", 0.004)])
def test_the_backtests_parent_is_the_quantity_the_services_desk_orders(tmp_path, asset, forecast) -> None:
    config = demo_desk_config()
    pair = f"{asset}/USDT"
    mid = {"ETH": 3000.0, "BTC": 90000.0}[asset]
    market = Market()
    market.observe(one_level_book(pair, mid))
    specs = [PaperVenueSpec(name="alpha", symbols=(pair,), fee=0.001)]
    venues = BacktestVenues(market, specs, {}, 0.0, None)
    executor = Executor(config, market, venues, Latency(seed=7), BacktestJournal(tmp_path / "journal.jsonl"))
    p = Prediction("p1", "kimera-ensemble:x", asset, T0, 1, forecast=forecast, lower=forecast - 0.004,
                   upper=forecast + 0.004, p_up=0.6)  # fmt: skip
    orders = executor.decide(p, T0)

    rules = MarketRules(pair, Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("0.001"), 10.0)
    desk = Desk(config.execution, {pair: rules}, {asset: pair})
    body = {"signal_id": "s1", "asset": asset, "model_tag": p.model_tag, "horizon": 1, "forecast": forecast,
            "lower": p.lower, "upper": p.upper}  # fmt: skip
    fan = desk.decide(body, {asset: mid}, 0.0)
    leader = fan.decisions[0]
    assert leader.account == "fund"
    assert leader.order is not None and orders, (leader.detail, executor.refusals)
    assert math.isclose(sum(o.amount for o in orders), float(leader.order.amount), abs_tol=1e-5)
    assert {o.side for o in orders} == {leader.order.side.value}
