"""The backtest sizes and slices a decision as the execution service does: whole lots never past
the target, and a parent above a venue order's limit sent as TWAP slices, none refused for size."""

from __future__ import annotations

from datetime import timedelta

from backtest.executor import Executor, micros
from backtest.fills import BacktestJournal, BacktestVenues, Latency
from backtest.market import Market
from execution.venues.matching import PaperVenueSpec
from kimera.config import load_config
from live.model import Prediction
from tests.backtest.test_fills import T0, book
from tests.conftest import REPO_ROOT


def test_a_decision_beyond_one_venue_orders_limit_is_sliced_as_the_service_slices_it(tmp_path) -> None:
    config = load_config(REPO_ROOT / "kimera.yaml")
    ex = config.execution
    market = Market()
    deep = 1_000.0  # enough at each level that every slice fills at the touch
    market.observe(book(T0, [(2999.0, deep)], [(3001.0, deep), (3002.0, deep)]))
    specs = [PaperVenueSpec(name="alpha", symbols=("ETH/USDT",), fee=0.001)]
    venues = BacktestVenues(market, specs, {}, ex.sizing.capital, "ETH/USDT")
    executor = Executor(config, market, venues, Latency(seed=7), BacktestJournal(tmp_path / "journal.jsonl"))
    # a forecast strong enough that the target is the whole position limit (above one order's limit)
    strong = Prediction("p1", "m", "ETH", T0, 1, forecast=0.05, lower=0.049, upper=0.051, p_up=0.99)
    orders = executor.decide(strong, T0)

    assert not executor.refusals, executor.refusals
    assert len(orders) > 1  # sliced
    notional = [o.amount * o.limit for o in orders]
    assert max(notional) <= ex.risk.max_order_notional
    assert sum(o.amount for o in orders) * 3000.0 <= ex.risk.max_position_notional  # never past it
    # slice k leaves twap_interval_s after slice k-1, from the decision's time
    starts = sorted({o.decided_at for o in orders})
    step = micros(T0 + timedelta(seconds=ex.routing.twap_interval_s)) - micros(T0)
    assert starts == [micros(T0) + k * step for k in range(len(starts))]
