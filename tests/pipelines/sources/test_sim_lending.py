"""The simulator's lending market: the same rows for any split of a window, Aave's rate curve,
liquidations only after the collateral's price fell, and rows that pass the raw quality suite."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from kimera.config import load_config
from kimera.schema import LENDING_EVENTS, LENDING_RESERVES, conform
from pipelines.sources import make_sources
from pipelines.sources.sim_lending import KINK, borrow_rate
from pipelines.warehouse import ensure_raw_schema, replace_window
from tests.support.config import REPO_CONFIG

DAY = (datetime(2026, 1, 3), datetime(2026, 1, 4))


@pytest.fixture(scope="module")
def lending():
    return make_sources(load_config(REPO_CONFIG)).lending


def test_any_split_of_a_window_gives_the_same_rows(lending) -> None:
    cut = datetime(2026, 1, 3, 7, 13)
    for fetch in (lending.events, lending.reserves):
        whole = fetch(*DAY)
        assert whole.num_rows > 0 and whole.equals(pa.concat_tables([fetch(DAY[0], cut), fetch(cut, DAY[1])]))


def test_rates_follow_the_kinked_curve_and_utilisation_stays_below_one(lending) -> None:
    rows = conform(LENDING_RESERVES, lending.reserves(*DAY)).to_pylist()
    for row in rows:
        u = row["total_borrowed"] / row["total_supplied"]
        assert 0 < u < 1
        assert row["variable_borrow_rate"] == pytest.approx(borrow_rate(u))
        assert row["supply_rate"] < row["variable_borrow_rate"]
    assert borrow_rate(0.9) > 5 * borrow_rate(KINK) / 1.2  # steep above the kink


def test_liquidations_follow_a_fall_of_the_collaterals_fair_price(lending) -> None:
    simulator = lending.simulator
    tokens = {t["token_address"]: t["asset"] for t in simulator.reference_tables()["tokens"].to_pylist()}
    events = conform(LENDING_EVENTS, lending.events(datetime(2026, 1, 2), datetime(2026, 1, 9))).to_pylist()
    liquidations = [e for e in events if e["event"] == "liquidation"]
    assert liquidations
    for e in liquidations:
        asset = tokens[e["collateral_reserve"]]
        fell = simulator.fair_price(asset, e["ts"]) / simulator.fair_price(
            asset, e["ts"] - timedelta(hours=1)
        )
        assert fell < 0.985 and tokens[e["reserve"]] == "USD"


def test_the_first_hour_of_the_simulated_world_has_rows_too(lending) -> None:
    start = lending.config.start_time  # no liquidation may look back before the world began
    assert lending.events(start, start + timedelta(hours=1)).num_rows > 0


def test_the_simulated_rows_pass_the_raw_quality_suite(lending, tmp_path) -> None:
    from pipelines.features.expectations import validate_raw

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_raw_schema(con, [LENDING_EVENTS, LENDING_RESERVES])
        replace_window(con, LENDING_EVENTS, *DAY, lending.events(*DAY))
        replace_window(con, LENDING_RESERVES, *DAY, lending.reserves(*DAY))
        for table in ("lending_events", "lending_reserves"):
            result = validate_raw(con, table, DAY)
            assert result.passed, result.summary()
