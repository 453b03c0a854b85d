"""The planted signal: measurable from the raw tables at its stated strength, absent at strength 0,
and the Bayes-optimal accuracy the simulator reports is what the returns deliver.

Tolerances are four standard errors (two-sided ~ 6e-5 false-alarm rate); seeds are fixed, so the
tests are deterministic, and they pass for other seeds too (checked when the tolerances were set).
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from marketsim import MarketSimulator
from marketsim.signal import probability_up
from tests.marketsim.conftest import START, make_spec

SIGNAL_SQL = """
with exchange as (select address from wallet_labels where category = 'exchange'),
flows as (
    select k.asset,
           date_trunc('hour', t.ts) + interval 1 hour as bar_time,
           sum(case when t.to_address in (select address from exchange) then t.amount else 0 end)
         - sum(case when t.from_address in (select address from exchange) then t.amount else 0 end) as net_inflow
    from token_transfers t join tokens k using (token)
    group by all
),
closes as (  -- consolidated close at each bar close: mean over venues of the last 1m candle's close
    select split_part(symbol, '/', 1) as asset, open_time + interval 1 minute as bar_time, avg(close) as close
    from exchange_ohlcv
    where minute(open_time) = 59
    group by all
)
select c.asset, c.bar_time, coalesce(f.net_inflow, 0) as net_inflow,
       ln(lead(c.close) over (partition by c.asset order by c.bar_time) / c.close) as label
from closes c left join flows f using (asset, bar_time)
order by c.asset, c.bar_time
"""


def _from_raw(sim: MarketSimulator, days: int) -> tuple[pa.Table, pa.Table]:
    """(per asset and bar: net inflow and next-bar label, computed by SQL from the raw tables; the
    simulator's planted_signal for the same bars)."""
    window = (START, START + timedelta(days=days))
    raw = sim.generate(*window, tables=["token_transfers", "exchange_ohlcv"])
    con = duckdb.connect()
    con.register("token_transfers", raw["token_transfers"])
    con.register("exchange_ohlcv", raw["exchange_ohlcv"])
    for name, table in sim.reference_tables().items():
        con.register(name, table)
    measured = con.sql(SIGNAL_SQL).to_arrow_table()
    truth = sim.planted_signal(*window)
    return measured, truth


def _aligned(measured: pa.Table, truth: pa.Table) -> dict[str, np.ndarray]:
    keep = ~np.isnan(measured.column("label").to_numpy(zero_copy_only=False))
    m = {c: measured.column(c).to_numpy(zero_copy_only=False)[keep] for c in measured.column_names}
    t = {c: truth.column(c).to_numpy(zero_copy_only=False)[: keep.size][keep] for c in truth.column_names}
    assert list(m["asset"]) == list(t["asset"]) and np.array_equal(m["bar_time"], t["bar_time"])
    return {
        "net": m["net_inflow"],
        "label": m["label"],
        **{k: t[k] for k in ("s", "scale", "sigma_next", "p_up", "net_inflow", "fwd_ret")},
    }


def _slope(s: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(s, z, 1)
    resid = z - slope * s - intercept
    return float(slope), float(np.sqrt(resid.var() / (len(s) * s.var())))


@pytest.fixture(scope="module")
def planted() -> dict[str, np.ndarray]:
    return _aligned(*_from_raw(MarketSimulator(make_spec(signal_strength=0.15)), days=60))


@pytest.fixture(scope="module")
def absent() -> dict[str, np.ndarray]:
    return _aligned(*_from_raw(MarketSimulator(make_spec(signal_strength=0.0)), days=60))


def test_the_observable_is_exactly_recomputable_from_raw_rows_with_sql(planted) -> None:
    np.testing.assert_allclose(planted["net"], planted["net_inflow"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(planted["net"] / planted["scale"], planted["s"], rtol=1e-12, atol=1e-12)
    assert np.count_nonzero(planted["s"]) > 0.99 * len(planted["s"])


def test_the_label_from_consolidated_closes_is_the_fair_return(planted) -> None:
    # venues disperse around the fair price with zero mean across them, so the mean of the venues'
    # closes is the fair price up to the tick: A* (stated for the fair return) holds for this label
    np.testing.assert_allclose(planted["label"], planted["fwd_ret"], rtol=0, atol=1e-6)
    assert np.mean(np.sign(planted["label"]) == np.sign(planted["fwd_ret"])) > 0.999


def test_the_signal_is_measurable_at_its_stated_strength(planted) -> None:
    # r_{h+1} / sigma_{h+1} = -beta * s_h + noise: the slope estimates -beta
    slope, stderr = _slope(planted["net"] / planted["scale"], planted["label"] / planted["sigma_next"])
    assert abs(slope - (-0.15)) < 4 * stderr, (slope, stderr)
    assert slope < -4 * stderr  # and clearly not zero
    # the oracle's directional calls on the raw labels hit as often as A* says (within 4 s.e.)
    calls_down = planted["net"] > 0
    hits = np.where(calls_down, planted["label"] < 0, planted["label"] > 0).mean()
    expected = np.maximum(planted["p_up"], 1 - planted["p_up"]).mean()
    stderr_hits = np.sqrt(expected * (1 - expected) / len(calls_down))
    assert abs(hits - expected) < 4 * stderr_hits, (hits, expected, stderr_hits)
    assert expected > 0.53


def test_strength_zero_is_a_martingale_nothing_predicts_the_next_bar(absent) -> None:
    slope, stderr = _slope(absent["net"] / absent["scale"], absent["label"] / absent["sigma_next"])
    assert abs(slope) < 4 * stderr, (slope, stderr)
    calls_down = absent["net"] > 0
    hits = np.where(calls_down, absent["label"] < 0, absent["label"] > 0).mean()
    assert abs(hits - 0.5) < 4 * np.sqrt(0.25 / len(calls_down)), hits
    assert np.all(absent["p_up"] == 0.5)
    z = absent["label"] / absent["sigma_next"]
    assert abs(z.mean()) < 4 * z.std() / np.sqrt(len(z))  # no drift either


def test_bayes_accuracy_matches_the_returns_the_simulator_makes() -> None:
    # a strong signal over a year of hourly bars, so the comparison is tight (s.e. ~ 0.004)
    sim = MarketSimulator(make_spec(signal_strength=0.5))
    window = (START, START + timedelta(days=365))
    result = sim.bayes_accuracy(*window)
    assert result.bars == 2 * 365 * 24
    assert 0.60 < result.expected < 0.65
    assert abs(result.realised - result.expected) < 4 * result.stderr, result
    for asset, (expected, realised, bars) in result.by_asset.items():
        assert abs(realised - expected) < 4 * np.sqrt(expected * (1 - expected) / bars), asset
    # the observable is standardised: unit variance by construction of its fixed scale
    s = sim.planted_signal(*window).column("s").to_numpy()
    assert abs(s.var() - 1.0) < 0.1 and abs(s.mean()) < 0.05


def test_bayes_accuracy_formula_matches_monte_carlo() -> None:
    sim = MarketSimulator(make_spec(signal_strength=0.5))
    table = sim.planted_signal(START, START + timedelta(days=30))
    rng = np.random.default_rng(2024)
    hits, draws = [], 400
    for asset in sim.spec.assets:
        rows = table.filter(pa.compute.equal(table["asset"], asset.symbol))
        s, sigma = rows.column("s").to_numpy(), rows.column("sigma_next").to_numpy()
        jumps = rng.poisson(asset.jumps_per_day / 24, (draws, len(s)))
        r = (
            -0.5 * s * sigma
            + sigma * rng.standard_normal((draws, len(s)))
            + np.sqrt(jumps) * asset.jump_size * rng.standard_normal((draws, len(s)))
        )
        hits.append(np.where(s > 0, r < 0, r > 0))
        # the per-bar probability too, on the same draws
        p_mc = (r > 0).mean(axis=0)
        p = probability_up(s, sigma, 0.5, asset, 3600)
        assert np.all(np.abs(p_mc - p) < 4 * np.sqrt(p * (1 - p) / draws) + 1e-9)
    mc = np.concatenate(hits, axis=1).mean()
    expected = sim.bayes_accuracy(START, START + timedelta(days=30)).expected
    assert abs(mc - expected) < 4 * np.sqrt(expected * (1 - expected) / (draws * len(table))), (mc, expected)
