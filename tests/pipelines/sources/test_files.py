"""Binance dumps and Parquet into the raw tables: detection, exact round trips, and clear refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from marketsim.binance_dumps import (
    KLINE_HEADER,
    agg_trade_lines,
    kline_lines,
    trade_lines,
    write_csv,
    write_zip,
)
from pipelines.sources import make_sources
from pipelines.sources.files import DumpError, FileExchangeSource, export_binance_csv, import_dump, read_dump
from tests.support.config import config_with

DAY_2024 = 1_704_067_200_000  # 2024-01-01 00:00 UTC in ms
DAY_2025 = 1_735_689_600_000


def _warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(tmp_path / "w.duckdb"))


def _rows(con, table: str) -> pa.Table:
    return con.sql(f"SELECT * FROM raw.{table} ORDER BY ALL").to_arrow_table()


def _projection(lines: list[str], columns: list[int]) -> str:
    return "\n".join(",".join(line.split(",")[i] for i in columns) for line in lines) + "\n"


def test_spot_kline_zip_round_trips_exactly(tmp_path: Path) -> None:
    lines = kline_lines(DAY_2024, 1440, 60_000)
    dump = write_zip(tmp_path / "BTCUSDT-1m-2024-01-01.zip", "BTCUSDT-1m-2024-01-01.csv", lines)
    con = _warehouse(tmp_path)
    (done,) = import_dump(con, dump, "binance", "BTC/USDT")
    assert (done.table, done.rows, done.timeframe) == ("raw.exchange_ohlcv", 1440, "1m")
    assert (done.start, done.end) == (datetime(2024, 1, 1), datetime(2024, 1, 2))

    stored = _rows(con, "exchange_ohlcv")
    assert set(stored.column("venue").to_pylist()) == {"binance"}
    exported = export_binance_csv(stored, tmp_path / "out.csv")
    # every column Kimera keeps comes back byte for byte: open_time, OHLCV, close_time
    assert exported.read_text() == _projection(lines, [0, 1, 2, 3, 4, 5, 6])


def test_futures_klines_with_header_and_short_numbers_round_trip(tmp_path: Path) -> None:
    lines = kline_lines(DAY_2024, 96, 900_000, spot=False)
    dump = write_csv(tmp_path / "BTCUSDT-15m-2024-01-01.csv", lines, header=KLINE_HEADER)
    con = _warehouse(tmp_path)
    (done,) = import_dump(con, dump, "binanceusdm", "BTC/USDT")
    assert done.timeframe == "15m" and done.rows == 96
    out = export_binance_csv(_rows(con, "exchange_ohlcv"), tmp_path / "out.csv", decimals=None, header=True)
    assert out.read_text() == "open_time,open,high,low,close,volume,close_time\n" + _projection(
        lines, range(7)
    )


def test_microsecond_spot_files_are_detected_by_magnitude(tmp_path: Path) -> None:
    lines = kline_lines(DAY_2025, 24, 3_600_000, micros=True)
    dump = write_zip(tmp_path / "ETHUSDT-1h-2025-01-01.zip", "ETHUSDT-1h-2025-01-01.csv", lines)
    con = _warehouse(tmp_path)
    (done,) = import_dump(con, dump, "binance", "ETH/USDT")
    assert (done.timeframe, done.start, done.end) == ("1h", datetime(2025, 1, 1), datetime(2025, 1, 2))
    out = export_binance_csv(_rows(con, "exchange_ohlcv"), tmp_path / "out.csv", micros=True)
    assert out.read_text() == _projection(lines, range(7))


def test_spot_trades_round_trip_with_taker_side(tmp_path: Path) -> None:
    lines = trade_lines(DAY_2024, 500)
    dump = write_zip(tmp_path / "BTCUSDT-trades-2024-01-01.zip", "BTCUSDT-trades-2024-01-01.csv", lines)
    con = _warehouse(tmp_path)
    (done,) = import_dump(con, dump, "binance", "BTC/USDT")
    assert (done.table, done.rows) == ("raw.exchange_trades", 500)
    stored = _rows(con, "exchange_trades").to_pylist()
    first = next(r for r in stored if r["trade_id"] == "3343370347")
    assert (first["side"], first["ts"]) == ("sell", datetime(2024, 1, 1))  # is_buyer_maker: the taker sold
    out = export_binance_csv(_rows(con, "exchange_trades"), tmp_path / "out.csv")
    assert out.read_text() == _projection(lines, [0, 1, 2, 4, 5])


def test_agg_trades_keep_their_aggregate_ids(tmp_path: Path) -> None:
    dump = write_csv(tmp_path / "ETHUSDT-aggTrades-2024-01-01.csv", agg_trade_lines(DAY_2024, 50))
    (parsed,) = read_dump(dump, "binance", "ETH/USDT")
    assert parsed.kind == "aggTrades"
    assert parsed.rows.column("trade_id").to_pylist()[:2] == ["2985316637", "2985316638"]
    assert parsed.rows.column("side").to_pylist()[:2] == ["buy", "sell"]


def test_a_bad_value_is_refused_naming_line_and_column_and_nothing_changes(tmp_path: Path) -> None:
    con = _warehouse(tmp_path)
    good = write_csv(tmp_path / "BTCUSDT-1m-2024-01-01.csv", kline_lines(DAY_2024, 60, 60_000))
    import_dump(con, good, "binance", "BTC/USDT")
    before = _rows(con, "exchange_ohlcv")

    lines = kline_lines(DAY_2024, 60, 60_000)
    fields = lines[2].split(",")
    fields[2] = "4x298.62"
    lines[2] = ",".join(fields)
    bad = write_csv(tmp_path / "bad.csv", lines)
    with pytest.raises(DumpError) as err:
        import_dump(con, bad, "binance", "BTC/USDT")
    assert "bad.csv: line 3, column 3 (high): '4x298.62' is not a number" in str(err.value)
    assert "accepted: Binance kline CSVs" in str(err.value)
    assert _rows(con, "exchange_ohlcv").equals(before)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ls: ls[:5] + [ls[5].rsplit(",", 2)[0]] + ls[6:], "line 6 has 10 columns, expected 12"),
        (
            lambda ls: ls[:3] + [ls[3].replace(ls[3].split(",")[0], ls[3].split(",")[0] + "000", 1)] + ls[4:],
            "line 4, column open_time",
        ),
        (lambda ls: ls + [ls[0]], "line 61 repeats open_time 1704067200000 of line 1"),
        (lambda ls: ["1,2,3,4,5"], "line 1 has 5 columns"),
        (lambda ls: ["time,price"] + ls, "header 'time,price' is not a Binance layout"),
    ],  # fmt: skip
    ids=["short-line", "mixed-units", "duplicate", "not-binance", "unknown-header"],
)
def test_malformed_files_get_a_clear_error(tmp_path: Path, mutate, message: str) -> None:
    path = write_csv(tmp_path / "k.csv", mutate(kline_lines(DAY_2024, 60, 60_000)))
    with pytest.raises(DumpError) as err:
        read_dump(path, "binance", "BTC/USDT")
    assert message in str(err.value)


def test_reimporting_a_file_replaces_its_range_idempotently(tmp_path: Path) -> None:
    con = _warehouse(tmp_path)
    dump = write_csv(tmp_path / "BTCUSDT-1m-2024-01-01.csv", kline_lines(DAY_2024, 120, 60_000))
    import_dump(con, dump, "binance", "BTC/USDT")
    first = _rows(con, "exchange_ohlcv")
    import_dump(con, dump, "binance", "BTC/USDT")
    assert _rows(con, "exchange_ohlcv").equals(first)


def test_parquet_with_raw_columns_is_imported(tmp_path: Path) -> None:
    opens = [datetime(2024, 1, 1) + timedelta(hours=h) for h in range(5)]
    table = pa.table(
        {"timeframe": ["1h"] * 5, "open_time": pa.array(opens, pa.timestamp("us")), "open": [1.0] * 5,
         "high": [2.0] * 5, "low": [0.5] * 5, "close": [1.5] * 5, "volume": [10.0] * 5}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "bars.parquet")
    con = _warehouse(tmp_path)
    (done,) = import_dump(con, tmp_path / "bars.parquet", "mydesk", "BTC/USD")
    assert (done.rows, done.end) == (5, datetime(2024, 1, 1, 5))
    assert set(_rows(con, "exchange_ohlcv").column("symbol").to_pylist()) == {"BTC/USD"}


def test_kimera_import_command(tmp_path: Path, kimera_home) -> None:
    dump = write_zip(tmp_path / "BTCUSDT-5m-2024-01-01.zip", "BTCUSDT-5m-2024-01-01.csv",
                     kline_lines(DAY_2024, 288, 300_000))  # fmt: skip
    result = CliRunner().invoke(main, ["import", str(dump), "--venue", "binance", "--symbol", "BTC/USDT"])
    assert result.exit_code == 0, result.output
    assert "288 rows into raw.exchange_ohlcv (binance BTC/USDT 5m)" in result.output
    with duckdb.connect(str(kimera_home.warehouse_path), read_only=True) as con:
        assert (
            con.execute("SELECT count(*) FROM raw.exchange_ohlcv WHERE timeframe = '5m'").fetchone()[0] == 288
        )

    bad = write_csv(tmp_path / "bad.csv", ["1,2,3"])
    result = CliRunner().invoke(main, ["import", str(bad), "--venue", "binance", "--symbol", "BTC/USDT"])
    assert result.exit_code == 2
    assert "import refused, nothing written" in result.output and "line 1 has 3 columns" in result.output


def test_file_source_is_one_config_switch(tmp_path: Path) -> None:
    for day in range(3):
        start = DAY_2024 + day * 86_400_000
        name = f"BTCUSDT-1m-2024-01-0{day + 1}"
        write_zip(tmp_path / f"{name}.zip", f"{name}.csv", kline_lines(start, 1440, 60_000))
    config = config_with(
        exchange={"source": "file", "files": [{"path": str(tmp_path / "BTCUSDT-1m-*.zip"), "venue": "binance",
                                               "symbol": "BTC/USDT"}]}
    )  # fmt: skip
    source = make_sources(config).exchange
    assert isinstance(source, FileExchangeSource) and source.venues() == ["binance"]
    window = source.ohlcv(datetime(2024, 1, 1, 23), datetime(2024, 1, 2, 1))
    assert window.num_rows == 120
    assert min(window.column("open_time").to_pylist()) == datetime(2024, 1, 1, 23)
    assert source.trades(datetime(2024, 1, 1), datetime(2024, 1, 2)).num_rows == 0
