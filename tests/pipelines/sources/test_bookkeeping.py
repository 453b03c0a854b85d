"""The ingest hooks: gaps recorded after candles, reorg heal and block coverage around chain windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from kimera.schema import CHAIN_BLOCKS, EXCHANGE_OHLCV
from pipelines.sources import make_sources
from pipelines.sources.bookkeeping import after_window, before_window
from pipelines.sources.rows import ts_to_ms
from pipelines.warehouse import replace_window
from tests.pipelines.sources.conftest import ChainWorld, ccxt_config
from tests.support.config import config_with


def test_gaps_are_recorded_after_a_candle_window_and_cleared_once_filled(
    exchange_server, tmp_path: Path
) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    start = datetime.utcnow().replace(second=0, microsecond=0) - timedelta(hours=3)
    end = start + timedelta(hours=1)
    exchange_server.market.holes["BTC/USDT"] = [(ts_to_ms(start) + 60_000, ts_to_ms(start) + 180_000)]
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    replace_window(
        con, EXCHANGE_OHLCV, start, end, source.ohlcv(start, end), scope={"venue": source.venues()}
    )
    assert after_window(con, EXCHANGE_OHLCV, source, start, end) == 1
    assert con.execute("SELECT symbol, missing, status FROM raw.exchange_gaps").fetchall() == [
        ("BTC/USDT", 2, "missing")
    ]

    exchange_server.market.holes.clear()  # the exchange repaired its history: a re-run clears the gap
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    source.ohlcv(start, end)
    assert after_window(con, EXCHANGE_OHLCV, source, start, end) == 0
    assert con.execute("SELECT count(*) FROM raw.exchange_gaps").fetchone()[0] == 0


def test_sources_without_bookkeeping_pass_through(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    sources = make_sources(config_with())
    start = datetime(2026, 1, 1)
    assert before_window(con, CHAIN_BLOCKS, sources.chain) is None
    assert after_window(con, EXCHANGE_OHLCV, sources.exchange, start, start + timedelta(hours=1)) == 0


def test_chain_windows_record_the_blocks_they_read(chain_world: ChainWorld, tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    chain_world.evm.mine(5)
    head = chain_world.evm.head
    source = make_sources(chain_world.config()).chain
    start, end = chain_world.window(head - 4, head)
    assert before_window(con, CHAIN_BLOCKS, source) is None  # nothing stored yet
    replace_window(con, CHAIN_BLOCKS, start, end, source.blocks(start, end), scope={"chain": ["testchain"]})
    assert after_window(con, CHAIN_BLOCKS, source, start, end) == 5
    stored = con.execute("SELECT block_number, block_hash FROM raw.block_coverage ORDER BY 1").fetchall()
    assert (
        stored == con.execute("SELECT block_number, block_hash FROM raw.chain_blocks ORDER BY 1").fetchall()
    )
