"""``kimera sql`` on the lake: it reads the lake's raw tables and marts, and nothing else (the
sandbox of the local warehouse, with file access limited to the lake's root)."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kimera.app.sql import query_warehouse
from kimera.config import load_config
from kimera.schema import EXCHANGE_OHLCV
from kimera.settings import get_settings
from pipelines.ingest.feeds import FEEDS
from pipelines.lake.store import open_lake, write_window
from pipelines.sources import make_sources
from tests.conftest import REPO_ROOT
from tests.support.servers import s3_server  # noqa: F401  (fixture)

START = datetime(2026, 1, 1)


def test_kimera_sql_reads_the_lake_and_is_refused_anything_outside_it(
    s3_server,  # noqa: F811
    kimera_home,
    monkeypatch,
) -> None:
    lake_url = f"s3://{s3_server.bucket}/lake"
    monkeypatch.setenv("KIMERA_LAKE_URL", lake_url)
    monkeypatch.setenv("KIMERA_LAKE_ENDPOINT_URL", s3_server.endpoint_url)
    get_settings.cache_clear()
    lake = open_lake(lake_url, endpoint_url=s3_server.endpoint_url)
    config = load_config(REPO_ROOT / "kimera.yaml")
    rows = FEEDS[EXCHANGE_OHLCV.name].fetch(make_sources(config), START, START + timedelta(hours=2))
    write_window(lake, EXCHANGE_OHLCV, START, START + timedelta(hours=2), rows)
    # a file in the same bucket but outside the lake's root
    with lake.fs.open(f"{s3_server.bucket}/private/secret.parquet", "wb") as f:
        pq.write_table(pa.table({"x": [1]}), f)

    columns, result = query_warehouse("SELECT count(*) AS n FROM raw.exchange_ohlcv")
    assert (columns, result) == (["n"], [(rows.num_rows,)])
    assert not kimera_home.warehouse_path.exists()  # read from the lake, no local warehouse
    inside = f"read_parquet('{lake_url}/raw/exchange_ohlcv/*/*.parquet')"  # files under the root may be read
    assert query_warehouse(f"SELECT count(*) FROM {inside}")[1] == [(rows.num_rows,)]

    for outside in (
        "read_csv('/etc/passwd')",
        f"read_parquet('s3://{s3_server.bucket}/private/secret.parquet')",
    ):
        with pytest.raises(click.ClickException, match="reaches nothing outside the warehouse"):
            query_warehouse(f"SELECT * FROM {outside}")
    with pytest.raises(click.ClickException, match="read-only"):
        query_warehouse("CREATE TABLE t AS SELECT 1")
