"""The ingest assets under Dagster: idempotent partitions, failures that keep the previous contents,
retries only where they can help, ranged backfills in one run, and the metadata a user sees."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterEventType, materialize

from kimera.schema import PARTITIONED_TABLES, RAW_TABLES
from pipelines.resources import KimeraResource, WarehouseResource
from pipelines.sources import Sources, make_sources
from tests.pipelines.ingest.fixture_sources import Faulty, fixture_sources

ALL = [t.name for t in PARTITIONED_TABLES]
HOUR = "2026-01-02-05:00"
H0 = datetime(2026, 1, 2, 5)
H1 = H0 + timedelta(hours=1)


def _snapshot(read_rows) -> dict[str, list[tuple]]:
    return {t: read_rows(t) for t in ALL}


def _materialised(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in result.get_asset_materialization_events():
        out.setdefault(event.asset_key.path[-1], []).append(event.partition)
    return out


def test_rematerialising_a_partition_leaves_identical_rows(run_ingest, read_rows) -> None:
    """With the config's own sources (the simulator), as `kimera demo` and the UI run them."""
    run_ingest(ALL, HOUR)
    first = _snapshot(read_rows)
    assert all(first[t] for t in ALL if RAW_TABLES[t].simulated), "every simulated raw table got rows"
    run_ingest(ALL, HOUR)
    assert _snapshot(read_rows) == first


def test_a_materialisation_records_rows_window_source_and_a_preview(run_ingest, config) -> None:
    result = run_ingest(["exchange_ohlcv"], HOUR)
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    bars = 60 * len(config.sim.venues) * len(config.assets)
    assert metadata["rows_written"].value == bars
    assert metadata["dagster/partition_row_count"].value == bars
    assert metadata["window_start"].value == H0.isoformat()
    assert metadata["window_end"].value == H1.isoformat()
    assert metadata["source"].value == "sim"
    assert '"venue": ["alpha", "bravo", "charlie"]' in metadata["scope"].value
    preview = metadata["preview"].value
    assert preview.splitlines()[0].startswith("| venue | symbol | timeframe | open_time")
    assert "2026-01-02 05:00:00" in preview


def test_a_source_failing_after_some_tables_leaves_the_failed_partition_as_it_was(
    run_ingest, read_rows
) -> None:
    run_ingest(ALL, HOUR, sources=fixture_sources(version=0))
    before = _snapshot(read_rows)
    newer = fixture_sources(version=1)

    def node_down(call: int, rows):
        raise ConnectionError("node went away")

    chain = Faulty(newer.chain, transfers=node_down)
    result = run_ingest(
        ALL, HOUR, sources=Sources(newer.exchange, chain, newer.dex, newer.lending), raise_on_error=False
    )
    assert not result.success
    after = _snapshot(read_rows)
    assert after["token_transfers"] == before["token_transfers"]
    assert len(chain.calls["transfers"]) == 3, "a source error is retried (max_retries=2) before failing"
    # The other tables of the same run were materialised with the newer rows.
    assert set(_materialised(result)) == set(ALL) - {"token_transfers"}
    assert all(
        after[t] != before[t] and len(after[t]) == len(before[t]) for t in set(ALL) - {"token_transfers"}
    )


def test_a_bad_row_fails_the_step_at_once_and_keeps_the_previous_rows(run_ingest, read_rows) -> None:
    run_ingest(["exchange_trades"], HOUR, sources=fixture_sources(version=0))
    before = read_rows("exchange_trades")
    newer = fixture_sources(version=1)
    exchange = Faulty(newer.exchange, trades=lambda call, rows: pa.concat_tables([rows, rows.slice(0, 1)]))
    result = run_ingest(
        ["exchange_trades"], HOUR, sources=Sources(exchange, newer.chain, newer.dex), raise_on_error=False
    )
    assert not result.success
    assert read_rows("exchange_trades") == before
    assert len(exchange.calls["trades"]) == 1, (
        "refused rows are not retried: the source would return them again"
    )
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "repeated natural key" in failure.event_specific_data.error.message


def test_a_transient_source_error_is_retried_and_the_partition_lands(run_ingest, read_rows) -> None:
    sources = fixture_sources()

    def flaky(call: int, rows):
        if call == 1:
            raise TimeoutError("rpc timed out")
        return rows

    chain = Faulty(sources.chain, blocks=flaky)
    result = run_ingest(["chain_blocks"], HOUR, sources=Sources(sources.exchange, chain, sources.dex))
    assert result.success
    assert len(chain.calls["blocks"]) == 2
    assert len(read_rows("chain_blocks")) == 12


def test_a_ranged_backfill_is_one_run_that_writes_each_window_once(run_ingest, read_rows, config) -> None:
    base = make_sources(config)  # the simulator, with its calls recorded
    exchange, chain = Faulty(base.exchange), Faulty(base.chain)
    start, end = datetime(2026, 1, 1, 20), datetime(2026, 1, 3, 2)  # 30 partitions, across a chunk edge
    result = run_ingest(
        ["exchange_ohlcv", "chain_blocks"],
        ("2026-01-01-20:00", "2026-01-03-01:00"),
        sources=Sources(exchange, chain, base.dex),
    )
    assert result.success
    starts = [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
    assert sorted(starts) == ["raw__chain_blocks", "raw__exchange_ohlcv"], "one step per asset for the range"
    materialised = _materialised(result)
    assert len(materialised["exchange_ohlcv"]) == len(set(materialised["exchange_ohlcv"])) == 30
    assert config.ingest.chunk_hours == 24
    edge = start + timedelta(hours=24)
    assert exchange.calls["ohlcv"] == [(start, edge), (edge, end)]
    assert chain.calls["blocks"] == [(start, edge), (edge, end)]
    assert len(read_rows("exchange_ohlcv")) == 30 * 60 * len(config.sim.venues) * len(config.assets)
    assert len(read_rows("chain_blocks")) == 30 * 3600 // config.sim.block_seconds


def test_reference_tables_materialise_unpartitioned(run_ingest, read_rows, config) -> None:
    result = run_ingest(["dex_pools", "tokens", "wallet_labels"], sources=fixture_sources())
    assert result.success
    assert [r[:3] for r in read_rows("dex_pools")] == [("ethereum", "uniswap_v2", fixture_sources().dex.POOL)]
    assert len(read_rows("tokens")) == len(config.chain.tokens)
    assert len(read_rows("wallet_labels")) == len(config.chain.exchange_wallets)


@pytest.mark.parametrize("key", [AssetKey(["raw", t]) for t in ALL])
def test_partitioned_assets_are_hourly_from_the_config_start_in_one_run_backfills(
    ingest_assets, config, key
) -> None:
    (asset_def,) = [a for a in ingest_assets if a.key == key]
    partitions = asset_def.partitions_def
    assert partitions.get_first_partition_window().start.replace(tzinfo=None) == config.start_time
    assert (
        partitions.get_first_partition_window().end - partitions.get_first_partition_window().start
        == timedelta(hours=1)
    )
    assert asset_def.backfill_policy.max_partitions_per_run is None  # single run


def test_sources_the_config_cannot_make_fail_the_step_at_once_without_retries(
    ingest_assets, settings, config_path
) -> None:
    calls = []

    class _NoAdapter(KimeraResource):
        def sources(self) -> Sources:
            calls.append(1)
            raise ValueError("exchange.source 'ccxt' has no adapter yet")

    result = materialize(
        ingest_assets,
        selection=[AssetKey(["raw", "exchange_ohlcv"])],
        resources={
            "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
            "kimera": _NoAdapter(config_path=str(config_path)),
        },
        partition_key=HOUR,
        raise_on_error=False,
    )
    assert not result.success
    assert len(calls) == 1
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert (
        "cannot make the sources the config asks for"
        in failure.step_failure_data.user_failure_data.description
    )
    assert "has no adapter yet" in failure.step_failure_data.user_failure_data.description
