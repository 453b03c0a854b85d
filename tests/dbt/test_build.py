"""The full build: every model, data test and unit test of the project passes on simulated data."""

from __future__ import annotations

from datetime import timedelta

import duckdb

from tests.dbt.conftest import DAYS


def test_build_runs_every_model_data_test_and_unit_test(full_build):
    _, run = full_build
    statuses = run.statuses()
    by_kind: dict[str, list[str]] = {}
    for unique_id, status in statuses.items():
        by_kind.setdefault(unique_id.split(".")[0], []).append(status)
    assert set(by_kind["model"]) == {"success"}
    assert set(by_kind["test"]) == {"pass"}
    assert set(by_kind["unit_test"]) == {"pass"}
    # the indicator, resampling, book, DEX, flow, feature and label arithmetic is pinned
    assert len(by_kind["unit_test"]) >= 14
    assert len(by_kind["test"]) >= 50


def test_features_and_labels_have_one_row_per_asset_and_bar(warehouse: duckdb.DuckDBPyConnection, sim_config):
    bars = warehouse.execute(
        "select asset, count(*), min(bar_time), max(bar_time) from marts.features group by asset order by asset"
    ).fetchall()
    start = sim_config.start_time
    assert [b[0] for b in bars] == sorted(a.symbol for a in sim_config.assets)
    for _, count, first, last in bars:
        # bars close at start + 1h ... start + DAYS days: the first hour's bar closes one bar in
        assert (count, first, last) == (DAYS * 24, start + timedelta(hours=1), start + timedelta(days=DAYS))
    labels = warehouse.execute("select count(*) from marts.labels").fetchall()[0][0]
    assert labels == DAYS * 24 * len(bars)


def test_every_feature_is_known_after_its_warm_up(warehouse: duckdb.DuckDBPyConnection):
    types = dict(
        warehouse.execute("select column_name, column_type from (describe marts.features)").fetchall()
    )
    features = [c for c in types if c not in ("asset", "bar_time")]
    assert {types[c] for c in features} == {"DOUBLE"}
    # after a week (the longest window) every feature has a value in every bar
    nulls = warehouse.execute(
        "select "
        + ", ".join(f"count(*) filter (where {c} is null or isnan({c}))" for c in features)
        + " from marts.features where bar_time > (select min(bar_time) from marts.features) + interval 8 days"
    ).fetchall()[0]
    missing = {c: n for c, n in zip(features, nulls, strict=True) if n}
    assert missing == {}
