"""The loopback exchange in its own process: several Binance venues streaming at a total trade rate.

``python -m marketsim.exchange_server.serve --venues 3 --symbols BTC/USDT ETH/USDT --rate 10000
--stats stats.json [--straggler-every-s 10]`` starts one :class:`ExchangeServer` per venue (each its own market, prices a
little apart), prints one JSON line ``{"ports": [...], "trades_per_s_per_symbol": ...}`` once they
listen, then serves until SIGTERM or SIGINT. ``--rate`` is the total over every venue and symbol
subscribed; each market streams it as bursts of trades on whole-millisecond ticks
(:meth:`Market.at_rate`). Every second, and on the way out, ``--stats`` gets the trade messages
each venue has pushed so far, so a reader can compare them with what it received.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from marketsim.exchange_server.binance import Binance
from marketsim.exchange_server.market import DEFAULT_LISTINGS, Market
from marketsim.exchange_server.server import ExchangeServer


def venue_markets(
    venues: int, symbols: list[str], total_rate: float, straggler_every_s: float = 0.0
) -> list[Market]:
    """One market per venue, each streaming ``total_rate / (venues * symbols)`` trades/s per symbol;
    with ``straggler_every_s`` (dividing 60), one trade a symbol that often, the last second of each
    period's, is delivered 8 s after its time: late for its 1m candle at every minute's end."""
    listed = {x.symbol: x for x in DEFAULT_LISTINGS}
    unknown = [s for s in symbols if s not in listed]
    if unknown:
        raise ValueError(f"symbols {unknown} are not listed; accepted: {sorted(listed)}")
    if venues < 1:
        raise ValueError(f"venues must be >= 1, got {venues}")
    per_symbol = total_rate / (venues * len(symbols))
    markets = []
    for k in range(venues):  # prices a few bp apart, so the venues are not copies of each other
        listings = tuple(
            replace(listed[s], base_price=listed[s].base_price * (1 + 0.0004 * k)) for s in symbols
        )
        market = Market.at_rate(per_symbol, listings=listings)
        market.straggler_period_ms = int(straggler_every_s * 1000)
        markets.append(market)
    return markets


def write_stats(path: Path, servers: list[ExchangeServer], started: float) -> None:
    stats = {"seconds": time.monotonic() - started, "trades_sent": [s.trades_sent for s in servers]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m marketsim.exchange_server.serve")
    parser.add_argument("--venues", type=int, default=3)
    parser.add_argument("--symbols", nargs="+", default=["BTC/USDT", "ETH/USDT"])
    parser.add_argument("--rate", type=float, default=1000.0, help="trades/s over every venue and symbol")
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--straggler-every-s", type=float, default=0.0,
                        help="one trade per symbol this often reaches subscribers 8 s late (0: none)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        markets = venue_markets(args.venues, args.symbols, args.rate, args.straggler_every_s)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    servers = [ExchangeServer(m, dialects=[Binance]) for m in markets]
    started = time.monotonic()
    try:
        for server in servers:
            server.start()
        per_symbol = markets[0].trades_per_s_per_symbol
        print(
            json.dumps({"ports": [s.port for s in servers], "trades_per_s_per_symbol": per_symbol}),
            flush=True,
        )
        while not stop.wait(1.0):
            write_stats(args.stats, servers, started)
    finally:
        write_stats(args.stats, servers, started)
        for server in servers:
            server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
