"""RSI, MACD (line, signal, histogram), ATR and Bollinger bands agree with TA-Lib to 1e-9.

TA-Lib runs on the same reference series the dbt models read (int_bars_consolidated), with the same
periods; NaN where TA-Lib is still warming up must be NULL in SQL, and every other value must agree.
RSI and %b are compared absolutely (they are 0-100 and O(1)); the price-scaled outputs relatively.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import talib

TOL = 1e-9


def series(warehouse: duckdb.DuckDBPyConnection, asset: str) -> pd.DataFrame:
    return warehouse.execute(
        "select b.bar_time, b.high, b.low, b.close, i.* exclude (asset, bar_time, close), "
        "f.macd_rel, f.macd_signal_rel, f.atr_rel, f.bb_pct_b "
        "from intermediate.int_bars_consolidated b "
        "join intermediate.int_indicators i using (asset, bar_time) "
        "join marts.features f using (asset, bar_time) "
        "where asset = ? order by bar_time",
        [asset],
    ).df()


def assert_matches(sql: pd.Series, reference: np.ndarray, name: str, relative: bool) -> None:
    ours = sql.to_numpy(dtype=float)
    assert np.array_equal(np.isnan(ours), np.isnan(reference)), f"{name}: warm-up (NULL/NaN) rows differ"
    known = ~np.isnan(reference)
    assert known.sum() > 100, f"{name}: too few values to compare"
    scale = np.abs(reference[known]) if relative else 1.0
    worst = np.max(np.abs(ours[known] - reference[known]) / scale)
    assert worst <= TOL, f"{name}: worst {'relative ' if relative else ''}difference {worst:.3g} > {TOL}"


@pytest.mark.parametrize("asset", ["BTC", "ETH"])
def test_indicators_match_talib(warehouse, sim_config, asset):
    frame = series(warehouse, asset)
    high, low, close = (frame[c].to_numpy(dtype=float) for c in ("high", "low", "close"))

    assert_matches(frame["rsi"], talib.RSI(close, timeperiod=14), "RSI(14)", relative=False)
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    assert_matches(frame["macd"], macd, "MACD line", relative=True)
    assert_matches(frame["macd_signal"], signal, "MACD signal", relative=True)
    assert_matches(frame["macd_hist"], hist, "MACD histogram", relative=True)
    atr = talib.ATR(high, low, close, timeperiod=14)
    assert_matches(frame["atr"], atr, "ATR(14)", relative=True)
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=talib.MA_Type.SMA)
    assert_matches(frame["bb_upper"], upper, "Bollinger upper", relative=True)
    assert_matches(frame["bb_middle"], middle, "Bollinger middle", relative=True)
    assert_matches(frame["bb_lower"], lower, "Bollinger lower", relative=True)

    # the marts' scale-free versions are the same numbers over the close
    assert_matches(frame["macd_rel"], macd / close, "macd_rel", relative=True)
    assert_matches(frame["macd_signal_rel"], signal / close, "macd_signal_rel", relative=True)
    assert_matches(frame["atr_rel"], atr / close, "atr_rel", relative=True)
    assert_matches(frame["bb_pct_b"], (close - lower) / (upper - lower), "bb_pct_b", relative=False)


def test_talib_conventions_matter_at_this_tolerance(warehouse):
    """A plain EWM started at the first value (pandas, `ta`) misses TA-Lib's MACD by far more than
    the tolerance, so agreeing with TA-Lib pins its seeding, not just the recursion."""
    frame = series(warehouse, "BTC")
    close = frame["close"]
    naive = close.ewm(span=12, adjust=False).mean() - close.ewm(span=26, adjust=False).mean()
    macd, _, _ = talib.MACD(close.to_numpy(dtype=float), 12, 26, 9)
    known = ~np.isnan(macd)
    assert np.max(np.abs(naive.to_numpy()[known] - macd[known]) / np.abs(macd[known])) > 1e3 * TOL
