"""A pure function of (spec, seed, window): same seed same rows; any split of a window, same rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from marketsim import PARTITIONED, TABLES, MarketSimulator, SimWindowError
from tests.marketsim.conftest import START, make_spec

DAY = timedelta(days=1)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in table.column_names if not c.startswith(("sqrt", "tick"))])


def _concat(parts: list[dict[str, pa.Table]], name: str) -> pa.Table:
    return _sorted(pa.concat_tables([p[name] for p in parts]))


def test_same_seed_same_rows_different_seed_different_rows() -> None:
    window = (START + 3 * DAY, START + 3 * DAY + timedelta(hours=2))
    first = MarketSimulator(make_spec()).generate(*window)
    again = MarketSimulator(make_spec()).generate(*window)
    other = MarketSimulator(make_spec(seed=12)).generate(*window)
    for name in TABLES:
        assert first[name].num_rows > 0, name
        assert first[name].equals(again[name]), f"{name} differs between two runs with one seed"
        assert not first[name].equals(other[name]), f"{name} ignores the seed"


@pytest.mark.parametrize(
    "cuts",
    [
        [timedelta(hours=h) for h in range(25)],  # hour by hour
        [timedelta(0), timedelta(hours=7, minutes=13), DAY],  # an odd split
        [timedelta(0), timedelta(hours=11, minutes=59, seconds=59, microseconds=999_999), DAY],
    ],
    ids=["hourly", "07:13", "one-microsecond-before-noon"],
)
def test_a_day_equals_the_union_of_any_split_of_it(cuts: list[timedelta]) -> None:
    day = START + 5 * DAY  # deep enough that the path-dependent state (prices, pools) matters
    whole = MarketSimulator(make_spec()).generate(day, day + DAY)
    split_sim = MarketSimulator(make_spec(), cache_days=1)  # tiny caches: recomputes from checkpoints
    parts = [split_sim.generate(day + a, day + b) for a, b in zip(cuts, cuts[1:], strict=False)]
    for name in TABLES:
        assert _sorted(whole[name]).equals(_concat(parts, name)), f"{name}: split rows differ from the day's"


def test_windows_across_midnight_and_asked_out_of_order_agree() -> None:
    sim = MarketSimulator(make_spec())
    late = sim.generate(START + 9 * DAY + timedelta(hours=22), START + 10 * DAY + timedelta(hours=2))
    early = sim.generate(START, START + timedelta(hours=1))  # asked after, must not disturb anything
    fresh = MarketSimulator(make_spec())
    assert early["exchange_ohlcv"].equals(fresh.generate(START, START + timedelta(hours=1))["exchange_ohlcv"])
    pieces = [
        fresh.generate(START + 9 * DAY + timedelta(hours=22), START + 10 * DAY),
        fresh.generate(START + 10 * DAY, START + 10 * DAY + timedelta(hours=2)),
    ]
    for name in TABLES:
        assert _sorted(late[name]).equals(_concat(pieces, name)), name


def test_rows_lie_inside_the_window_asked_for() -> None:
    sim = MarketSimulator(make_spec())
    lo, hi = START + DAY + timedelta(minutes=7, seconds=30), START + DAY + timedelta(hours=3, minutes=1)
    for name, rows in sim.generate(lo, hi).items():
        times = rows.column(PARTITIONED[name][1])
        assert pa.compute.min(times).as_py() >= lo and pa.compute.max(times).as_py() < hi, name


def test_bad_windows_fail_clearly() -> None:
    sim = MarketSimulator(make_spec())
    with pytest.raises(SimWindowError, match="before the simulation's start 2026-01-01"):
        sim.generate(datetime(2025, 12, 31), START + DAY)
    with pytest.raises(SimWindowError, match="must be after its start"):
        sim.generate(START + DAY, START + DAY)
    with pytest.raises(ValueError, match="unknown table"):
        sim.generate(START, START + DAY, tables=["exchange_candles"])
    with pytest.raises(SimWindowError, match="before the simulation's start"):
        sim.order_book("alpha", "BTC/USDT", datetime(2025, 6, 1))


def test_an_unusual_world_is_just_as_consistent_across_splits_and_midnights() -> None:
    # 7 s blocks straddle midnights, 4 h bars, 15 m candles, hourly 3-level books
    changes = dict(
        block_seconds=7, bar_seconds=4 * 3600, timeframe_seconds=900, book_interval_seconds=3600, book_depth=3
    )
    day = START + 2 * DAY
    whole = MarketSimulator(make_spec(**changes)).generate(day, day + 2 * DAY)
    split_sim = MarketSimulator(make_spec(**changes))
    cuts = [timedelta(0), timedelta(hours=23, minutes=59, seconds=58), timedelta(days=1, hours=3), 2 * DAY]
    parts = [split_sim.generate(day + a, day + b) for a, b in zip(cuts, cuts[1:], strict=False)]
    for name in TABLES:
        assert _sorted(whole[name]).equals(_concat(parts, name)), name
    blocks = whole["chain_blocks"].sort_by("block_number")
    assert blocks.column("parent_hash").to_pylist()[1:] == blocks.column("block_hash").to_pylist()[:-1]
    gas, fee = blocks.column("gas_used").to_numpy(), blocks.column("base_fee_gwei").to_numpy()
    target = blocks.column("gas_limit").to_numpy()[:-1] / 2
    assert abs(fee[1:] / (fee[:-1] * (1 + (gas[:-1] - target) / target / 8)) - 1).max() < 1e-6
    assert set(whole["exchange_ohlcv"].column("timeframe").to_pylist()) == {"15m"}
    assert whole["order_book_snapshots"].num_rows == 2 * 24 * 6 * 2 * 3
    signal = MarketSimulator(make_spec(**changes)).planted_signal(day, day + 2 * DAY)
    assert signal.num_rows == 2 * 2 * 6  # two assets, six 4 h bars a day
