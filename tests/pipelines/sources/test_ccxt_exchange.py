"""The ccxt REST source against a local exchange, driven by the real ccxt binance and kraken classes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from connect.ccxt import UnknownSymbol
from kimera.config import ConfigError
from kimera.schema import EXCHANGE_GAPS, EXCHANGE_OHLCV, EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS, conform
from marketsim.exchange_server import ExchangeServer
from pipelines.sources import make_sources
from pipelines.sources.ccxt_exchange import CcxtExchangeSource
from pipelines.sources.retry import SourceUnavailable
from pipelines.sources.rows import ms_to_ts, ts_to_ms
from tests.pipelines.sources.conftest import ccxt_config
from tests.support.config import config_with

MINUTE = 60_000


def _minute_floor(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def _window(hours_back: float, hours_long: float) -> tuple[datetime, datetime]:
    now = _minute_floor(datetime.utcnow())
    start = now - timedelta(hours=hours_back)
    return start, start + timedelta(hours=hours_long)


def _expected_candles(server: ExchangeServer, symbol: str, start: datetime, end: datetime) -> list[tuple]:
    rows = []
    for open_ms in range(ts_to_ms(start), ts_to_ms(end), MINUTE):
        if server.market.has_candle(symbol, MINUTE, open_ms):
            rows.append((ms_to_ts(open_ms), *server.market.candle(symbol, MINUTE, open_ms)))
    return rows


def _stored_candles(table, venue: str, symbol: str) -> list[tuple]:
    rows = [r for r in table.to_pylist() if r["venue"] == venue and r["symbol"] == symbol]
    return [(r["open_time"], r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in rows]


def test_config_switch_alone_selects_the_ccxt_source(exchange_server: ExchangeServer) -> None:
    sources = make_sources(ccxt_config(exchange_server, "binance"))
    assert isinstance(sources.exchange, CcxtExchangeSource)
    assert sources.exchange.venues() == ["binance"]


def test_binance_candles_are_paged_until_caught_up_and_equal_the_exchange(exchange_server) -> None:
    source = make_sources(ccxt_config(exchange_server, "binance", venue={"page_limit": 50})).exchange
    start, end = _window(3, 2)
    table = source.ohlcv(start, end)

    assert conform(EXCHANGE_OHLCV, table).num_rows == 2 * 120
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert _stored_candles(table, "binance", symbol) == _expected_candles(
            exchange_server, symbol, start, end
        )
    klines = exchange_server.requests_to("/klines")
    assert len(klines) == 2 * 3  # 120 bars at 50 a page, per symbol
    assert {r.query["limit"] for r in klines} == {"50"}
    assert source.gaps(start, end).num_rows == 0


def test_kraken_speaks_its_own_dialect_to_the_same_rows(exchange_server) -> None:
    source = make_sources(ccxt_config(exchange_server, "kraken")).exchange
    start, end = _window(2, 1)
    table = source.ohlcv(start, end)
    assert _stored_candles(table, "kraken", "BTC/USDT") == _expected_candles(
        exchange_server, "BTC/USDT", start, end
    )
    assert exchange_server.requests_to("/0/public/OHLC")


def test_history_the_exchange_no_longer_serves_is_a_recorded_gap_never_invented(exchange_server) -> None:
    # Kraken serves only the last 720 one-minute bars: a window 20 hours back is simply not there.
    source = make_sources(ccxt_config(exchange_server, "kraken")).exchange
    start, end = _window(20, 1)
    assert source.ohlcv(start, end).num_rows == 0
    gaps = conform(EXCHANGE_GAPS, source.gaps(start, end)).to_pylist()
    assert {(g["symbol"], g["gap_start"], g["gap_end"], g["missing"], g["status"]) for g in gaps} == {
        (s, start, end, 60, "missing") for s in ("BTC/USDT", "ETH/USDT")
    }


def test_a_hole_in_history_is_recorded_as_missing_and_the_rest_is_kept(exchange_server) -> None:
    start, end = _window(3, 1)
    hole = (ts_to_ms(start) + 10 * MINUTE, ts_to_ms(start) + 25 * MINUTE)
    exchange_server.market.holes["BTC/USDT"] = [hole]
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange

    table = source.ohlcv(start, end)
    btc = _stored_candles(table, "binance", "BTC/USDT")
    assert len(btc) == 60 - 15
    assert not [r for r in btc if hole[0] <= ts_to_ms(r[0]) < hole[1]]
    assert len(_stored_candles(table, "binance", "ETH/USDT")) == 60
    (gap,) = source.gaps(start, end).to_pylist()
    assert (gap["symbol"], gap["gap_start"], gap["gap_end"]) == (
        "BTC/USDT",
        ms_to_ts(hole[0]),
        ms_to_ts(hole[1]),
    )
    assert (gap["missing"], gap["recovered"], gap["status"], gap["origin"]) == (15, 0, "missing", "rest")


def test_a_gap_the_exchange_can_fill_is_backfilled_and_recorded_as_such(exchange_server) -> None:
    start, end = _window(3, 1)
    flaky = (ts_to_ms(start) + 30 * MINUTE, ts_to_ms(start) + 34 * MINUTE)
    exchange_server.market.flaky["ETH/USDT"] = [flaky]
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange

    table = source.ohlcv(start, end)
    assert _stored_candles(table, "binance", "ETH/USDT") == _expected_candles(
        exchange_server, "ETH/USDT", start, end
    )
    (gap,) = source.gaps(start, end).to_pylist()
    assert (gap["symbol"], gap["missing"], gap["recovered"], gap["status"]) == (
        "ETH/USDT",
        4,
        4,
        "backfilled",
    )


def test_the_bar_still_forming_is_not_stored(exchange_server) -> None:
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    now = datetime.utcnow()
    table = source.ohlcv(_minute_floor(now) - timedelta(minutes=5), _minute_floor(now) + timedelta(minutes=5))
    assert max(table.column("open_time").to_pylist()) == _minute_floor(now) - timedelta(minutes=1)
    assert (
        source.gaps(
            _minute_floor(now) - timedelta(minutes=5), _minute_floor(now) + timedelta(minutes=5)
        ).num_rows
        == 0
    )


def test_429_waits_as_long_as_retry_after_says(exchange_server) -> None:
    exchange_server.faults.fail(times=1, status=429, retry_after="1", path="/klines")
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    start, end = _window(2, 0.5)
    assert source.ohlcv(start, end).num_rows == 2 * 30

    klines = exchange_server.requests_to("/klines")
    assert [r.status for r in klines[:2]] == [429, 200]
    assert klines[1].at - klines[0].at >= 1.0  # backoff alone would have waited 0.05 s


def test_418_asking_for_longer_than_allowed_fails_at_once_naming_it(exchange_server) -> None:
    exchange_server.faults.fail(times=1, status=418, retry_after="7200", path="/klines")
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    with pytest.raises(SourceUnavailable) as err:
        source.ohlcv(*_window(2, 0.5))
    assert "binance fetch_ohlcv BTC/USDT" in str(err.value)
    assert "retry after 7200 s" in str(err.value) and "max_retry_after_s" in str(err.value)
    assert len(exchange_server.requests_to("/klines")) == 1


def test_5xx_is_retried_with_backoff(exchange_server) -> None:
    exchange_server.faults.fail(times=2, status=503, path="/klines")
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    assert source.ohlcv(*_window(2, 0.5)).num_rows == 60
    assert [r.status for r in exchange_server.requests_to("/klines")[:3]] == [503, 503, 200]


def test_a_stalled_request_times_out_and_is_retried(exchange_server) -> None:
    exchange_server.faults.stall(times=1, seconds=4, path="/klines")
    config = ccxt_config(
        exchange_server, "binance", retry={"attempts": 3, "backoff_s": 0.05, "timeout_s": 0.5}
    )
    assert make_sources(config).exchange.ohlcv(*_window(2, 0.5)).num_rows == 60


def test_an_exchange_that_is_down_gets_bounded_retries_then_a_named_cause(exchange_server) -> None:
    exchange_server.faults.down = True
    config = ccxt_config(exchange_server, "binance", retry={"attempts": 3, "backoff_s": 0.05})
    with pytest.raises(SourceUnavailable) as err:
        make_sources(config).exchange.ohlcv(*_window(2, 0.5))
    message = str(err.value)
    assert message.startswith("binance load_markets: unreachable after 3 attempt(s)")
    assert "ExchangeNotAvailable" in message
    assert len(exchange_server.requests) == 3


def test_trades_are_paged_by_time_and_equal_every_exchange_trade(exchange_server) -> None:
    source = make_sources(ccxt_config(exchange_server, "binance", venue={"page_limit": 100})).exchange
    start, end = _window(1, 0.25)  # 15 minutes: ~450 trades a symbol at one every 2 s
    table = conform(EXCHANGE_TRADES, source.trades(start, end))
    for symbol in ("BTC/USDT", "ETH/USDT"):
        expected = exchange_server.market.trades_between(symbol, ts_to_ms(start), ts_to_ms(end) - 1)
        stored = sorted(
            (r for r in table.to_pylist() if r["symbol"] == symbol), key=lambda r: int(r["trade_id"])
        )
        assert [(int(r["trade_id"]), r["ts"], r["side"], r["price"], r["amount"]) for r in stored] == [
            (t.id, ms_to_ts(t.ts_ms), t.side, t.price, t.amount) for t in expected
        ]
    assert len(exchange_server.requests_to("/aggTrades")) >= 2 * 5


def test_kraken_trades_too(exchange_server) -> None:
    source = make_sources(ccxt_config(exchange_server, "kraken")).exchange
    start, end = _window(1, 0.1)
    table = source.trades(start, end)
    expected = exchange_server.market.trades_between("ETH/USDT", ts_to_ms(start), ts_to_ms(end) - 1)
    assert sorted(int(r["trade_id"]) for r in table.to_pylist() if r["symbol"] == "ETH/USDT") == [
        t.id for t in expected
    ]


def test_order_book_snapshot_only_for_the_window_holding_now(exchange_server) -> None:
    source = make_sources(ccxt_config(exchange_server, "binance", book_depth=5)).exchange
    now = datetime.utcnow()
    table = conform(
        ORDER_BOOK_SNAPSHOTS, source.order_books(now - timedelta(minutes=5), now + timedelta(minutes=5))
    )
    btc = [r for r in table.to_pylist() if r["symbol"] == "BTC/USDT"]
    bids = [r for r in btc if r["side"] == "bid"]
    asks = [r for r in btc if r["side"] == "ask"]
    assert [r["level"] for r in bids] == list(range(5)) and [r["level"] for r in asks] == list(range(5))
    assert all(b["price"] > c["price"] for b, c in zip(bids, bids[1:], strict=False))
    assert bids[0]["price"] < asks[0]["price"]
    assert source.order_books(*_window(3, 1)).num_rows == 0  # no one can fetch a past book


def test_unknown_exchange_id_fails_at_config_load_naming_the_closest_ids() -> None:
    with pytest.raises(ConfigError) as err:
        config_with(exchange={"source": "ccxt", "ccxt_venues": [{"exchange": "binanse"}]})
    assert "exchange.ccxt_venues[0].exchange = 'binanse' is not accepted" in str(err.value)
    assert "not a ccxt exchange id; closest: binance" in str(err.value)


def test_unknown_symbol_names_the_closest_listed_ones(exchange_server) -> None:
    config = ccxt_config(exchange_server, "binance", venue={"symbols": {"BTC": "BTC/USDC"}})
    with pytest.raises(UnknownSymbol) as err:
        make_sources(config).exchange.ohlcv(*_window(2, 0.1))
    assert "binance does not list 'BTC/USDC'" in str(err.value)
    assert "closest: BTC/USDT" in str(err.value)


def test_a_venue_quote_maps_every_asset(exchange_server) -> None:
    config = ccxt_config(exchange_server, "binance", venue={"quote": "USDT", "id": "binance_spot"})
    table = make_sources(config).exchange.ohlcv(*_window(2, 0.1))
    assert set(table.column("venue").to_pylist()) == {"binance_spot"}
    assert set(table.column("symbol").to_pylist()) == {"BTC/USDT", "ETH/USDT"}


def test_keys_come_only_from_secrets(exchange_server, monkeypatch, kimera_home) -> None:
    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    assert not source._venues[0].exchange.apiKey  # public data: no keys
    monkeypatch.setenv("KIMERA_SECRET_BINANCE_API_KEY", "k-123")
    monkeypatch.setenv("KIMERA_SECRET_BINANCE_SECRET", "s-456")
    source = CcxtExchangeSource(ccxt_config(exchange_server, "binance"))
    exchange = source._venues[0].exchange
    assert (exchange.apiKey, exchange.secret) == ("k-123", "s-456")
    assert source.ohlcv(*_window(2, 0.1)).num_rows == 2 * 6
    signed = exchange_server.requests_to("/sapi/v1/capital/config/getall")
    assert signed and all(r.status == 200 for r in signed)  # the key reached the exchange in its header
    assert not [r for r in exchange_server.requests if "s-456" in str(r.query)]  # the secret only signs


def test_a_window_includes_what_the_stream_landed_so_a_rerun_loses_nothing(
    exchange_server, kimera_home
) -> None:
    from pipelines.landing.files import land
    from pipelines.sources.rows import table_from_records

    start, end = _window(2, 0.05)  # three minutes, two hours ago
    streamed = [
        {"venue": "binance", "symbol": "BTC/USDT", "trade_id": "streamed-only", "ts": start + timedelta(seconds=5),
         "side": "buy", "price": 1.0, "amount": 2.0},
    ]  # fmt: skip
    rest_trade = exchange_server.market.trades_between("BTC/USDT", ts_to_ms(start), ts_to_ms(end) - 1)[0]
    streamed.append(
        {**streamed[0], "trade_id": str(rest_trade.id), "price": rest_trade.price}
    )  # also over REST
    land(kimera_home.landing_dir, EXCHANGE_TRADES, "binance", table_from_records(EXCHANGE_TRADES, streamed))
    book = [{"venue": "binance", "symbol": "BTC/USDT", "ts": start + timedelta(seconds=30), "side": s, "level": 0,
             "price": p, "amount": 1.0} for s, p in (("bid", 99.0), ("ask", 101.0))]  # fmt: skip
    land(
        kimera_home.landing_dir,
        ORDER_BOOK_SNAPSHOTS,
        "binance",
        table_from_records(ORDER_BOOK_SNAPSHOTS, book),
    )

    source = make_sources(ccxt_config(exchange_server, "binance")).exchange
    trades = conform(EXCHANGE_TRADES, source.trades(start, end)).to_pylist()
    ids = [r["trade_id"] for r in trades if r["symbol"] == "BTC/USDT"]
    assert "streamed-only" in ids and ids.count(str(rest_trade.id)) == 1
    assert source.order_books(start, end).num_rows == 2  # a past book exists only if it was streamed
