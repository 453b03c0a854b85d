"""`kimera stream` against a local exchange driven by the real ccxt.pro binance client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kimera.settings import Settings
from marketsim.exchange_server import ExchangeServer
from pipelines.landing.files import pending
from pipelines.landing.stream import Streamer
from pipelines.sources.rows import ms_to_ts
from tests.pipelines.landing.conftest import stream_config

pytestmark = pytest.mark.timeout(120)


def _landed(home: Settings, table: str) -> pa.Table:
    files = [f for f in pending(home.landing_dir) if f.table.name == table]
    return pa.concat_tables([pq.read_table(f.path) for f in files]) if files else pa.table({})


def _assert_every_trade_once(server: ExchangeServer, trades: pa.Table, symbol: str) -> list[int]:
    rows = [r for r in trades.to_pylist() if r["symbol"] == symbol]
    ids = sorted(int(r["trade_id"]) for r in rows)
    assert len(ids) == len(set(ids)), "a trade was landed twice"
    assert ids == list(range(ids[0], ids[-1] + 1)), "a trade is missing"
    by_id = {int(r["trade_id"]): r for r in rows}
    for trade_id in (ids[0], ids[len(ids) // 2], ids[-1]):
        t = server.market.trade(symbol, trade_id)
        r = by_id[trade_id]
        assert (r["ts"], r["side"], r["price"], r["amount"]) == (ms_to_ts(t.ts_ms), t.side, t.price, t.amount)
    return ids


async def _stream_with_a_drop(
    streamer: Streamer, server: ExchangeServer, seconds: float, drop_at: float
) -> None:
    async def drop() -> None:
        await asyncio.sleep(drop_at)
        assert await asyncio.to_thread(server.drop_websockets) >= 1

    dropper = asyncio.create_task(drop())
    await streamer.run(seconds)
    await dropper


def test_stream_lands_every_trade_and_book_snapshots(
    fast_exchange: ExchangeServer, kimera_home: Settings
) -> None:
    streamer = Streamer(stream_config(fast_exchange), kimera_home)
    stats = asyncio.run(streamer.run(3.5))

    trades = _landed(kimera_home, "exchange_trades")
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert len(_assert_every_trade_once(fast_exchange, trades, symbol)) >= 15
    books = _landed(kimera_home, "order_book_snapshots").to_pylist()
    snapshots = {(r["symbol"], r["ts"]) for r in books}
    assert len(snapshots) >= 4 and stats.snapshots == len(snapshots)
    for symbol, ts in snapshots:
        levels = [r for r in books if (r["symbol"], r["ts"]) == (symbol, ts)]
        bids = [r["price"] for r in sorted(levels, key=lambda r: r["level"]) if r["side"] == "bid"]
        asks = [r["price"] for r in sorted(levels, key=lambda r: r["level"]) if r["side"] == "ask"]
        assert len(bids) == len(asks) == 5
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert stats.files >= 4  # several micro-batches, not one file at the end
    assert not list(Path(kimera_home.landing_dir).rglob("*.tmp"))
    assert not kimera_home.warehouse_path.exists()  # land, then load: the stream never opens DuckDB


def test_a_dropped_connection_reconnects_and_backfills_the_missed_trades(
    fast_exchange: ExchangeServer, kimera_home: Settings
) -> None:
    streamer = Streamer(stream_config(fast_exchange, order_books=False), kimera_home)
    asyncio.run(_stream_with_a_drop(streamer, fast_exchange, seconds=5.0, drop_at=1.5))

    assert fast_exchange.websocket_connections >= 2  # the first one and the reconnect
    trades = _landed(kimera_home, "exchange_trades")
    for symbol in ("BTC/USDT", "ETH/USDT"):
        _assert_every_trade_once(fast_exchange, trades, symbol)
    gaps = _landed(kimera_home, "exchange_gaps").to_pylist()
    assert {g["symbol"] for g in gaps} == {"BTC/USDT", "ETH/USDT"}
    for gap in gaps:
        assert (gap["dataset"], gap["origin"], gap["status"]) == ("trades", "stream", "backfilled")
        assert gap["recovered"] >= 1 and gap["gap_start"] < gap["gap_end"]
    assert streamer.stats.backfilled >= 2 and streamer.stats.reconnects >= 2
    assert fast_exchange.requests_to("/aggTrades")  # the missed trades came over REST


def test_kimera_stream_command(
    fast_exchange: ExchangeServer, kimera_home: Settings, tmp_path, monkeypatch
) -> None:
    from click.testing import CliRunner

    from kimera.app.cli import main
    from kimera.settings import get_settings
    from tests.support.config import write_config

    config = stream_config(fast_exchange)
    path = write_config(tmp_path / "kimera.yaml", exchange=config.exchange.model_dump(mode="json"))
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["stream", "--seconds", "2"])
    assert result.exit_code == 0, result.output
    assert f"streaming binance into {kimera_home.landing_dir}" in result.output
    assert "trades (0 backfilled after 0 reconnect(s))" in result.output
    assert pending(kimera_home.landing_dir)
