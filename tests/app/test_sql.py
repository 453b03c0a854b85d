"""``kimera sql``: read-only queries over the warehouse as a table, CSV or JSON lines, with clear refusals."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import duckdb
import pytest
from click.testing import CliRunner

from kimera import schema
from kimera.app.cli import main
from pipelines.warehouse import replace_window
from tests.pipelines.ingest.fixture_sources import FixtureExchange

T0 = datetime(2026, 1, 1)


@pytest.fixture
def warehouse(kimera_home):
    """A warehouse with two hours of 1m candles for two venues (240 rows)."""
    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    exchange = FixtureExchange(["alpha", "bravo"], ["BTC/USDT"])
    with duckdb.connect(str(kimera_home.warehouse_path)) as con:
        replace_window(
            con,
            schema.EXCHANGE_OHLCV,
            T0,
            T0 + timedelta(hours=2),
            exchange.ohlcv(T0, T0 + timedelta(hours=2)),
        )
    return kimera_home.warehouse_path


def _sql(*args: str):
    return CliRunner().invoke(main, ["sql", *args])


def _count(path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select count(*) from raw.exchange_ohlcv").fetchone()[0]


def test_a_query_prints_a_table_with_its_row_count(warehouse) -> None:
    result = _sql("select venue, count(*) as bars from raw.exchange_ohlcv group by venue order by venue")
    assert result.exit_code == 0, result.output
    assert "venue" in result.output and "bars" in result.output
    assert "alpha" in result.output and "120" in result.output
    assert "(2 rows)" in result.output


def test_csv_gives_a_header_and_every_row(warehouse) -> None:
    result = _sql("select venue, open_time, close from raw.exchange_ohlcv order by all", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["venue", "open_time", "close"]
    assert len(rows) == 1 + 240
    assert rows[1][:2] == ["alpha", "2026-01-01T00:00:00"]


def test_json_gives_one_object_per_row_with_iso_times(warehouse) -> None:
    result = _sql("select venue, open_time, volume from raw.exchange_ohlcv order by all limit 3", "--json")
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert objects[0] == {"venue": "alpha", "open_time": "2026-01-01T00:00:00", "volume": 2.0}
    assert len(objects) == 3


def test_the_table_view_is_limited_but_says_how_to_get_everything(warehouse) -> None:
    result = _sql("select * from raw.exchange_ohlcv", "--limit", "5")
    assert result.exit_code == 0
    assert "(240 rows, first 5 shown; use --csv or --json for all)" in result.output


@pytest.mark.parametrize(
    "query",
    [
        "insert into raw.exchange_ohlcv select * from raw.exchange_ohlcv",
        "delete from raw.exchange_ohlcv",
        "drop table raw.exchange_ohlcv",
        "select 1; delete from raw.exchange_ohlcv",
    ],
)
def test_a_write_is_refused_and_changes_nothing(warehouse, query) -> None:
    result = _sql(query)
    assert result.exit_code != 0
    assert "kimera sql is read-only" in result.output
    assert _count(warehouse) == 240


def test_writing_files_or_attaching_databases_is_refused(warehouse, tmp_path) -> None:
    target = tmp_path / "out.csv"
    result = _sql(f"copy (select 1) to '{target}'")
    assert result.exit_code != 0 and "COPY statements are refused" in result.output
    assert not target.exists()
    result = _sql(f"attach '{tmp_path / 'other.duckdb'}' as other")
    assert result.exit_code != 0 and "ATTACH statements are refused" in result.output


def test_no_warehouse_yet_says_to_run_the_demo(kimera_home) -> None:
    result = _sql("select 1")
    assert result.exit_code != 0
    assert f"no warehouse at {kimera_home.warehouse_path}" in result.output
    assert "kimera demo" in result.output


def test_a_bad_query_gives_duckdbs_first_line(warehouse) -> None:
    result = _sql("select * from raw.no_such_table")
    assert result.exit_code != 0
    assert "no_such_table" in result.output
    assert "Traceback" not in result.output


def test_a_warehouse_held_by_a_writer_gives_a_clear_message(warehouse) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _sql("select count(*) from raw.exchange_ohlcv")
        assert result.exit_code != 0
        assert "being written by another process" in result.output
    finally:
        holder.terminate()
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _sql("select 1").exit_code != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sql("select 1").exit_code == 0
