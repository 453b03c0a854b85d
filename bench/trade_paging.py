"""Trade history by REST: requests per day of history against the exchange's page size.

Two days of a quiet pair (a trade a minute, with a 12-hour silence) from the local test exchange,
through the real ccxt classes and Kimera's paging, for Binance (hour-bounded time queries, then
paging by trade id) and Kraken (time-paged). The ceiling is the fewest requests the page size
allows: one per page of trades. At about a second a request against a real exchange,
the requests are the time: 44 days of Kraken history paged hour by hour were 1,056 requests.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from bench import Measure

PAGE = 1000
CASES = (("binance", "BTC/USDT", "/aggTrades"), ("kraken", "ETH/USDT", "/0/public/Trades"))


def _requests_per_day(exchange: str, symbol: str, path: str, days: int) -> tuple[float, float]:
    import yaml

    from kimera.config import parse_config
    from kimera.settings import get_settings
    from marketsim.exchange_server import ExchangeServer
    from marketsim.exchange_server.market import Market
    from pipelines.sources import make_sources
    from pipelines.sources.rows import ts_to_ms

    with ExchangeServer(Market(trade_interval_ms=60_000)) as server:
        end = datetime.utcnow()
        start = end - timedelta(days=days)
        quiet = start + timedelta(hours=6)
        server.market.holes[symbol] = [(ts_to_ms(quiet), ts_to_ms(quiet + timedelta(hours=12)))]
        data = yaml.safe_load(get_settings().config.read_text())  # the user's config, two sections replaced
        data["assets"] = [a for a in data["assets"] if symbol.startswith(a["symbol"] + "/")]
        data["exchange"] = {"source": "ccxt", "ccxt_venues": [server.venue(exchange, page_limit=PAGE)]}
        trades = make_sources(parse_config(data)).exchange.trades(start, end).num_rows
        requests = len(server.requests_to(path))
    floor = math.ceil(trades / PAGE)
    return requests / days, floor / days


def run(quick: bool = False) -> list[Measure]:
    days = 1 if quick else 2
    measures = []
    for exchange, symbol, path in CASES:
        ours, ceiling = _requests_per_day(exchange, symbol, path, days)
        measures.append(
            Measure(
                f"{exchange} trade history, quiet pair (1 trade/min, 12 h silent)",
                ours,
                "requests/day",
                f"page-size floor: trades/{PAGE}",
                ceiling,
                ceiling / ours,
                "ratio >= 0.5",
                ceiling / ours >= 0.5,
            )  # fmt: skip
        )
    return measures
