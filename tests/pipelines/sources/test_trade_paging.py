"""Trade history skips empty spans: requests grow with the trades, not with the hours of history.

Real ccxt clients against the local exchange in Binance's and Kraken's formats; a silent span (no
trades for hours) sits inside the window, as on a quiet pair or an exchange outage.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pipelines.sources import make_sources
from pipelines.sources.rows import ts_to_ms

from .conftest import ccxt_config

LIMIT = 1000


def _window_with_silence(server, symbol: str, silent_hours: int) -> tuple[datetime, datetime, int]:
    """The eight hours up to now; trades stop for ``silent_hours`` from the second hour."""
    end = datetime.utcnow()
    start = end - timedelta(hours=8)
    quiet = start + timedelta(hours=1)
    server.market.holes[symbol] = [(ts_to_ms(quiet), ts_to_ms(quiet + timedelta(hours=silent_hours)))]
    trades = server.market.trades_between(symbol, ts_to_ms(start), ts_to_ms(end) - 1)
    return start, end, len(trades)


def test_binance_pages_by_trade_id_across_a_silent_span(exchange_server):
    start, end, expected = _window_with_silence(exchange_server, "BTC/USDT", silent_hours=6)
    venue = {"page_limit": LIMIT, "symbols": {"BTC": "BTC/USDT"}}
    config = ccxt_config(exchange_server, "binance", venue=venue)
    config = config.model_copy(update={"assets": config.assets[:1]})
    rows = make_sources(config).exchange.trades(start, end)
    assert rows.num_rows == expected
    requests = len(exchange_server.requests_to("/aggTrades"))
    # one hour-long query for the first trade, then pages of LIMIT by id (the hour-by-hour paging
    # asked each of the 8 hours, twice where an hour held more than one page)
    assert 1 <= requests <= math.ceil(expected / LIMIT) + 1 < 8


def test_kraken_stops_when_an_answer_holds_nothing_newer(exchange_server):
    start, end, expected = _window_with_silence(exchange_server, "ETH/USDT", silent_hours=8)  # quiet to now
    config = ccxt_config(exchange_server, "kraken", venue={"page_limit": LIMIT})
    config = config.model_copy(update={"assets": config.assets[1:]})
    rows = make_sources(config).exchange.trades(start, end)
    assert rows.num_rows == expected
    requests = len(exchange_server.requests_to("/0/public/Trades"))
    # one request after the last page; stepping an hour on each short answer asked each quiet hour
    assert 1 <= requests <= math.ceil(expected / LIMIT) + 1 < 7
