"""Order-book watchers in the live ccxt.pro feed, against the loopback exchange (Binance's depth
stream and REST snapshot, the real ccxt.pro class): every asset's book sampled on exchange time,
ahead of the watermark that closes its bar, and re-synced after a dropped websocket."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta

import duckdb
import pytest

from connect.ccxt import build_exchange
from live.clock import LiveClock
from live.events import RawRows, Watermark
from live.feeds.books import BookWatchers, LiveBook
from live.feeds.ccxt import CcxtFeed, Stream
from live.feeds.landed import LandingFeed
from live.run import ccxt_feed
from marketsim.exchange_server import ExchangeServer, Market
from pipelines.landing.load import load_pending
from pipelines.warehouse import ensure_raw_schema
from tests.pipelines.landing.conftest import stream_config

pytestmark = pytest.mark.timeout(120)
SYMBOLS = ("BTC/USDT", "ETH/USDT")
DEPTH = 5


@pytest.fixture
def exchange_server():
    with ExchangeServer(Market(trade_interval_ms=100)) as server:
        yield server


async def collect(server: ExchangeServer, seconds: float, drop_at: float | None = None, landing_dir=None):
    """Events of a feed watching trades and books of both symbols; the websockets dropped at
    ``drop_at``. Returns the feed, the events and the watermark seen when the drop happened."""
    config = stream_config(server)
    pro = build_exchange(config.exchange.ccxt_venues[0], config.exchange.retry, pro=True)
    books = BookWatchers([LiveBook("binance", s, pro) for s in SYMBOLS], DEPTH, timedelta(seconds=1),
                         max_backoff_s=0.5)  # fmt: skip
    feed = CcxtFeed([Stream("binance", s, pro) for s in SYMBOLS], timedelta(seconds=2),
                    grace=timedelta(milliseconds=1500), max_backoff_s=0.5, books=books)  # fmt: skip
    source = LandingFeed(feed, landing_dir) if landing_dir else feed
    events: list = []

    async def consume():
        async for event in source.events(LiveClock()):
            events.append(event)

    consumer = asyncio.create_task(consume())
    dropped_after = None
    if drop_at is not None:
        await asyncio.sleep(drop_at)
        dropped_after = len(events)
        assert await asyncio.to_thread(server.drop_websockets) >= 1
    await asyncio.sleep(seconds - (drop_at or 0))
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    return feed, events, dropped_after


def snapshots(events) -> dict[tuple, list[dict]]:
    """Rows of raw.order_book_snapshots grouped by (symbol, ts)."""
    out: dict[tuple, list[dict]] = defaultdict(list)
    for e in events:
        if isinstance(e, RawRows) and e.table == "order_book_snapshots":
            for row in e.rows.to_pylist():
                out[(row["symbol"], row["ts"])].append(row)
    return out


def test_every_assets_book_is_sampled_on_exchange_time_before_its_bar_closes(exchange_server):
    feed, events, _ = asyncio.run(collect(exchange_server, seconds=7.0))

    taken = snapshots(events)
    for symbol in SYMBOLS:
        mine = {ts: rows for (s, ts), rows in taken.items() if s == symbol}
        assert len(mine) >= 3, f"{symbol}: too few snapshots {sorted(mine)}"
        for ts, rows in mine.items():
            assert ts.microsecond == 0  # on the 1 s grid of exchange time
            bids = sorted((r for r in rows if r["side"] == "bid"), key=lambda r: r["level"])
            asks = sorted((r for r in rows if r["side"] == "ask"), key=lambda r: r["level"])
            assert [r["level"] for r in bids] == list(range(DEPTH)) == [r["level"] for r in asks]
            assert [r["price"] for r in bids] == sorted((r["price"] for r in bids), reverse=True)
            assert [r["price"] for r in asks] == sorted(r["price"] for r in asks)
            assert bids[0]["price"] < asks[0]["price"] and all(r["amount"] > 0 for r in rows)
        # a live book, not one copy repeated: the venue changes its levels' amounts every 250 ms (its
        # mid follows a slow curve of the wall clock, so for a few seconds prices can stay put)
        assert len({tuple((r["price"], r["amount"]) for r in rows) for rows in mine.values()}) >= 2
    # each snapshot is delivered before the watermark passes its time, so it counts in its bar
    mark = None
    for e in events:
        if isinstance(e, Watermark):
            mark = e.until
        elif isinstance(e, RawRows) and e.table == "order_book_snapshots":
            assert mark is None or e.rows.column("ts")[0].as_py() > mark
    assert feed.books is not None and feed.books.stats.updates > 0


def test_a_dropped_book_websocket_is_re_synced_and_sampled_again(exchange_server):
    feed, events, dropped_after = asyncio.run(collect(exchange_server, seconds=9.0, drop_at=3.0))

    assert feed.books is not None and feed.books.stats.reconnects >= 1
    assert exchange_server.websocket_connections >= 2
    after = snapshots(events[dropped_after:])
    for symbol in SYMBOLS:
        assert len([ts for s, ts in after if s == symbol]) >= 2, f"{symbol}: book not sampled after the drop"


def test_what_the_feed_sees_lands_once_for_the_warehouse(exchange_server, tmp_path):
    feed, events, _ = asyncio.run(collect(exchange_server, seconds=6.0, landing_dir=tmp_path / "landing"))

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        load_pending(con, tmp_path / "landing")
        load_pending(con, tmp_path / "landing")  # loaded exactly once
        trades = con.execute("select symbol, trade_id from raw.exchange_trades order by all").fetchall()
        books = con.execute("select symbol, ts, side, level, price from raw.order_book_snapshots "
                            "order by all").fetchall()  # fmt: skip
    seen = [e.rows for e in events if isinstance(e, RawRows)]
    seen_trades = sorted((r["symbol"], r["trade_id"]) for t in seen for r in t.to_pylist() if "trade_id" in r)
    seen_books = sorted((r["symbol"], r["ts"], r["side"], r["level"], r["price"]) for t in seen
                        for r in t.to_pylist() if "level" in r)  # fmt: skip
    assert trades and books
    # everything seen up to the last watermark landed, nothing twice (the rest lands at the stop)
    assert set(trades) <= set(seen_trades) and len(trades) == len(set(trades))
    assert set(books) <= set(seen_books) and len(books) == len(set(books))
    assert len(trades) >= len(seen_trades) * 0.5 and {s for s, *_ in books} == set(SYMBOLS)


def test_the_configured_feed_watches_books_unless_switched_off(exchange_server, kimera_home):
    config = stream_config(exchange_server)
    landing = ccxt_feed(config, kimera_home)
    assert landing.landing_dir == kimera_home.landing_dir
    feed = landing.inner
    assert feed.books is not None
    assert {(b.venue, b.symbol) for b in feed.books.books} == {(s.venue, s.symbol) for s in feed.streams}
    assert feed.books.depth == config.exchange.book_depth
    assert feed.books.interval == timedelta(seconds=config.exchange.stream.book_seconds)

    off = stream_config(exchange_server, order_books=False)
    assert ccxt_feed(off, kimera_home).inner.books is None


def test_bad_book_settings_are_refused():
    with pytest.raises(ValueError, match="at least 1 level"):
        BookWatchers([], 0, timedelta(seconds=1))
    with pytest.raises(ValueError, match="interval must be positive"):
        BookWatchers([], 5, timedelta(0))
