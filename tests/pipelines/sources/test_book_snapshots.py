"""REST order-book snapshots for the newest window, as docs/live-sources.md promises: the hourly
ingest runs after its hour has ended, so the snapshot it takes is kept at its own time."""

from __future__ import annotations

from datetime import datetime, timedelta

from kimera.schema import ORDER_BOOK_SNAPSHOTS, conform
from kimera.settings import get_settings
from pipelines.landing.files import pending
from pipelines.sources import make_sources

from .conftest import ccxt_config


def test_the_newest_ended_window_takes_a_snapshot_kept_at_its_own_time(exchange_server, kimera_home):
    source = make_sources(ccxt_config(exchange_server, "binance", book_depth=5)).exchange
    now = datetime.utcnow()
    hour_end = now.replace(minute=0, second=0, microsecond=0)
    if now - hour_end < timedelta(seconds=5):
        hour_end -= timedelta(hours=1)
    ended = (hour_end - timedelta(hours=1), hour_end)  # what the hourly schedule ingests now

    in_window = source.order_books(*ended)
    assert in_window.num_rows == 0  # taken after the window: never back-dated into it
    landed = pending(get_settings().landing_dir)
    assert [f.table.name for f in landed] == ["order_book_snapshots"]

    current = conform(ORDER_BOOK_SNAPSHOTS, source.order_books(hour_end, hour_end + timedelta(hours=1)))
    stamps = sorted({r["ts"] for r in current.to_pylist()})
    assert len(stamps) >= 1 and all(hour_end <= t < hour_end + timedelta(hours=1) for t in stamps)
    assert {r["symbol"] for r in current.to_pylist()} == {"BTC/USDT", "ETH/USDT"}
    assert source.order_books(hour_end - timedelta(hours=3), hour_end - timedelta(hours=2)).num_rows == 0
