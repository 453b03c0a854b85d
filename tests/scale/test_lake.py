"""The warehouse on an S3-compatible object store (moto's server): raw tables as one Parquet file
per hourly partition, rewritten idempotently, read by several DuckDB readers while a writer appends,
and dbt building the same marts from the lake as from the local warehouse."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest

from kimera.config import load_config, parse_config
from kimera.schema import EXCHANGE_OHLCV, PARTITIONED_TABLES
from pipelines.features.sim_data import load_sim_window
from pipelines.ingest.feeds import FEEDS
from pipelines.lake.flow import build_marts_on_lake, ingest_reference_to_lake, ingest_window_to_lake
from pipelines.lake.store import lake_reader, mart_assets, open_lake, partition_path, write_window
from pipelines.sources import make_sources
from tests.conftest import REPO_ROOT
from tests.support.config import SIM_FILLED_TABLES, shipped_config_data
from tests.support.local_marts import build_local_marts
from tests.support.servers import s3_server  # noqa: F401  (fixture)

START = datetime(2026, 1, 1)


def _files(lake) -> dict[str, bytes]:
    keys = lake.fs.find(lake.root.split("://", 1)[1] + "/raw")
    return {key: lake.fs.cat(key) for key in keys}


def test_partition_files_are_idempotent_and_readers_never_see_half_a_partition(s3_server, tmp_path) -> None:  # noqa: F811
    config = load_config(REPO_ROOT / "kimera.yaml")
    lake = open_lake(f"s3://{s3_server.bucket}/lake", endpoint_url=s3_server.endpoint_url)
    first = ingest_window_to_lake(lake, config, START, START + timedelta(hours=3))
    before = _files(lake)
    assert first == len(before) == 3 * len(SIM_FILLED_TABLES)  # one file per filled table and hour
    # a rewrite of the same window writes the same files, byte for byte, and no other
    assert ingest_window_to_lake(lake, config, START, START + timedelta(hours=3)) == first
    assert _files(lake) == before

    # what DuckDB reads from the lake is what the local warehouse holds for the same hours
    with duckdb.connect(str(tmp_path / "local.duckdb")) as local:
        load_sim_window(local, config, START, START + timedelta(hours=3))
        with lake_reader(lake) as con:
            for table in (t for t in PARTITIONED_TABLES if t.simulated):  # what load_sim_window loads
                query = f"SELECT * FROM {table.qualified} ORDER BY ALL"
                assert con.execute(query).fetchall() == local.execute(query).fetchall(), table.name

    # bad rows (outside the window) are refused with the reason, and nothing changes
    feed = FEEDS[EXCHANGE_OHLCV.name]
    late = feed.fetch(make_sources(config), START + timedelta(hours=3), START + timedelta(hours=4))
    with pytest.raises(ValueError, match=r"raw.exchange_ohlcv: rows from .* fall outside the window"):
        write_window(lake, EXCHANGE_OHLCV, START, START + timedelta(hours=1), late)
    assert _files(lake) == before

    # readers while a writer appends hours 3..8: each hour a reader sees is complete
    sources = make_sources(config)
    final = {
        START + timedelta(hours=h): feed.fetch(
            sources, START + timedelta(hours=h), START + timedelta(hours=h + 1)
        ).num_rows
        for h in range(9)
    }
    seen: list[dict[datetime, int]] = []
    failures: list[BaseException] = []
    done = threading.Event()
    ready = threading.Barrier(4)
    hourly = "SELECT date_trunc('hour', open_time) AS hour, count(*) FROM raw.exchange_ohlcv GROUP BY hour"

    def reader() -> None:
        try:
            with lake_reader(lake) as con:
                seen.append(dict(con.execute(hourly).fetchall()))
                ready.wait(timeout=120)
                while not done.is_set():
                    seen.append(dict(con.execute(hourly).fetchall()))
                seen.append(dict(con.execute(hourly).fetchall()))  # once more, after the writer
        except BaseException as exc:  # reported by the test thread
            ready.abort()
            failures.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        ready.wait(timeout=120)
        for h in range(3, 9):
            hour = START + timedelta(hours=h)
            write_window(
                lake,
                EXCHANGE_OHLCV,
                hour,
                hour + timedelta(hours=1),
                feed.fetch(sources, hour, hour + timedelta(hours=1)),
            )
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=60)
    assert not failures, failures
    assert seen and all(count == final[hour] for counts in seen for hour, count in counts.items())
    assert {len(counts) for counts in seen} >= {3, 9}  # before, and after, the appends
    assert lake.fs.exists(partition_path(lake, EXCHANGE_OHLCV, START + timedelta(hours=8)))


@pytest.mark.slow
def test_dbt_builds_the_same_marts_from_the_lake_as_from_the_local_warehouse(
    s3_server,  # noqa: F811
    kimera_home,
    tmp_path,
) -> None:
    from kimera.settings import Settings

    config = load_config(REPO_ROOT / "kimera.yaml")
    end = START + timedelta(days=2)
    local = build_local_marts(tmp_path / "local", REPO_ROOT / "kimera.yaml", START, end)

    lake_settings = Settings(home=tmp_path / "lake-home", config=REPO_ROOT / "kimera.yaml",
                             lake_url=f"s3://{s3_server.bucket}/lake", lake_endpoint_url=s3_server.endpoint_url)  # fmt: skip
    lake = open_lake(lake_settings.lake_url, endpoint_url=lake_settings.lake_endpoint_url)
    ingest_reference_to_lake(lake, config)
    ingest_window_to_lake(lake, config, START, end)
    assert build_marts_on_lake(lake_settings, lake, config) == 2 * len(
        config.assets
    )  # features, labels per asset
    assert not lake_settings.warehouse_path.exists()  # no local warehouse was needed

    # equal to the last bits: sums over rows read from several files may add in another order
    with duckdb.connect(str(local.warehouse_path), read_only=True) as warehouse, duckdb.connect() as reader:
        reader.register_filesystem(lake.fs)
        for mart in ("features", "labels"):
            files = lake.path("marts", mart, "*", "*.parquet")
            from_lake = reader.sql(f"SELECT * FROM read_parquet('{files}') ORDER BY asset, bar_time").df()
            here = warehouse.sql(f"SELECT * FROM marts.{mart} ORDER BY asset, bar_time").df()
            assert len(here) == len(config.assets) * 48, mart  # every bar of the two days
            pd.testing.assert_frame_equal(from_lake[here.columns], here, check_exact=False, rtol=1e-9)

    # an asset dropped from the config, then a full rebuild: its mart files leave the lake, whose
    # marts then equal the rebuilt catalog's (as a local full rebuild drops the asset's rows)
    data = shipped_config_data(all_chains=True)
    data["assets"] = data["assets"][:1]
    kept = parse_config(data, "test config")
    assert build_marts_on_lake(lake_settings, lake, kept) == 2
    kept_asset = kept.assets[0].symbol
    for mart in ("features", "labels"):
        assert mart_assets(lake, mart) == [kept_asset], mart
    with duckdb.connect(str(local.warehouse_path), read_only=True) as warehouse, duckdb.connect() as reader:
        reader.register_filesystem(lake.fs)
        for mart in ("features", "labels"):
            files = lake.path("marts", mart, "*", "*.parquet")
            from_lake = reader.sql(f"SELECT * FROM read_parquet('{files}') ORDER BY asset, bar_time").df()
            here = warehouse.sql(
                f"SELECT * FROM marts.{mart} WHERE asset = $a ORDER BY bar_time", params={"a": kept_asset}
            ).df()
            assert len(here) == 48, mart
            pd.testing.assert_frame_equal(from_lake[here.columns], here, check_exact=False, rtol=1e-9)
