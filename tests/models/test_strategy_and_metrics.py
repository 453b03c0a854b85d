"""Scores and the backtest on hand-computed cases: what a quant would check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from models.metrics import forecast_metrics
from models.strategy import backtest, positions


def _frame(pos, ret, asset="BTC"):
    times = pd.date_range("2026-01-01", periods=len(pos), freq="1h")
    return pd.DataFrame({"asset": asset, "bar_time": times, "position": pos, "fwd_ret": ret})


def test_position_earns_the_forward_return_and_pays_fees_on_turnover() -> None:
    # long, long, short, flat: turnover 1 + 0 + 2 + 1 = 4 units at 10 bps
    bt = backtest(_frame([1, 1, -1, 0], [0.01, -0.02, -0.03, 0.05]), horizon=1, fee_bps=10)
    expected = 0.01 - 0.02 + 0.03 + 0.0 - 4 * 0.001
    assert bt.total_return == pytest.approx(expected)
    assert bt.turnover == pytest.approx(1.0)
    assert bt.win_rate == pytest.approx(2 / 3)  # three periods in the market, two made money
    assert bt.exposure == pytest.approx(0.75)


def test_longer_horizon_rebalances_every_h_bars_without_overlap() -> None:
    bt = backtest(_frame([1, 1, 1, 1, 1, 1], [0.01, 0.5, 0.5, 0.02, 0.5, 0.5]), horizon=3, fee_bps=0)
    assert bt.periods == 2
    assert bt.total_return == pytest.approx(0.03)


def test_drawdown_is_the_largest_fall_from_a_peak() -> None:
    bt = backtest(_frame([1, 1, 1, 1], [0.10, -0.05, -0.10, 0.02]), horizon=1, fee_bps=0)
    assert bt.max_drawdown == pytest.approx(1 - math.exp(-0.15))


def test_no_trade_inside_the_cost_band() -> None:
    np.testing.assert_array_equal(positions(np.array([0.002, 0.0005, -0.0005, -0.003]), 0.001), [1, 0, 0, -1])
    np.testing.assert_array_equal(positions(np.array([-0.003]), 0.001, allow_short=False), [0])


def test_forecast_metrics_by_hand() -> None:
    realised = np.array([0.01, -0.02, 0.03, -0.01, np.nan])
    forecast = np.array([0.005, -0.01, -0.01, -0.002, 0.0])
    p_up = np.array([0.6, 0.3, 0.4, 0.45, 0.5])
    m = forecast_metrics(forecast, forecast - 0.015, forecast + 0.015, p_up, realised)
    assert m["n"] == 4  # the unlabelled bar is not scored
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["coverage"] == pytest.approx(0.75)  # only 0.03 falls outside its band [-0.025, 0.005]
    expected_ll = -np.mean(np.log([0.6, 0.7, 0.4, 0.55]))
    assert m["log_loss"] == pytest.approx(expected_ll)


def test_constant_forecast_has_no_correlation_rather_than_zero() -> None:
    m = forecast_metrics(np.zeros(5), -np.ones(5), np.ones(5), np.full(5, 0.6), np.array([1, -1, 2, -2, 3.0]))
    assert math.isnan(m["ic"]) and math.isnan(m["rank_ic"])
