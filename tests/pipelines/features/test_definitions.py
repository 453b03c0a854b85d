"""The features domain in the code location: one graph from raw/<table> to the marts, partitioned and
pooled like ingest, blocking checks on every raw table, automation on every model."""

from __future__ import annotations

from dagster import AssetKey

from kimera.schema import RAW_TABLES
from pipelines.features.automation import follow_raw_data


def test_dbt_models_are_assets_downstream_of_the_ingest_assets(defs):
    graph = defs.resolve_asset_graph()
    marts = {AssetKey(["marts", "features"]), AssetKey(["marts", "labels"])}
    assert marts <= graph.get_all_asset_keys()
    lending = graph.upstream_key_iterator(AssetKey(["marts", "lending"]))
    assert {k for k in lending if k.path[0] == "raw"} >= {
        AssetKey(["raw", "lending_events"]),
        AssetKey(["raw", "lending_reserves"]),
    }
    # dbt sources are the ingest assets themselves: staging reads raw/<table>, nothing else
    assert graph.get(AssetKey(["staging", "stg_exchange__trades"])).parent_keys == {
        AssetKey(["raw", "exchange_trades"])
    }
    # every raw table has its staging view; the features read all of them but the pool reserves
    # (swap prices carry the same price, for V3 pools too), V3 liquidity changes (staged only) and
    # the lending tables (their own mart, marts.lending)
    staged = {
        p for k in graph.get_all_asset_keys() if k.path[0] == "staging" for p in graph.get(k).parent_keys
    }
    assert staged == {AssetKey(["raw", t]) for t in RAW_TABLES}
    upstream = graph.upstream_key_iterator(AssetKey(["marts", "features"]))
    assert {k for k in upstream if k.path[0] == "raw"} == {
        AssetKey(["raw", t])
        for t in RAW_TABLES
        if t not in ("dex_pool_reserves", "dex_liquidity", "lending_events", "lending_reserves")
    }


def test_dbt_assets_share_the_ingest_partitions_pool_and_automation(defs):
    graph = defs.resolve_asset_graph()
    features = graph.get(AssetKey(["marts", "features"]))
    trades = graph.get(AssetKey(["raw", "exchange_trades"]))
    assert features.partitions_def == trades.partitions_def
    assert features.group_name == "features"
    assert features.automation_condition == follow_raw_data()
    assets_def = defs.resolve_assets_def(AssetKey(["marts", "features"]))
    assert assets_def.op.pool == "duckdb"
    assert (
        assets_def.backfill_policy is not None and assets_def.backfill_policy.max_partitions_per_run is None
    )


def test_every_raw_table_has_a_blocking_quality_check(defs):
    graph = defs.resolve_asset_graph()
    blocking = {key.asset_key for key in graph.asset_check_keys if key.name == "quality"}
    assert blocking == {AssetKey(["raw", t]) for t in RAW_TABLES}
    for key in graph.asset_check_keys:
        if key.name == "quality":
            assert graph.get_check_spec(key).blocking
        if key.name == "gaps":
            assert not graph.get_check_spec(key).blocking
    # dbt tests on the models are checks too
    assert any(k.asset_key == AssetKey(["marts", "features"]) for k in graph.asset_check_keys)
    assert {"features", "features_rebuild"} <= {job.name for job in defs.jobs}
