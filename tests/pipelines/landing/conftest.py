"""Fixtures for the landing tests: a local exchange streaming fast (a trade every 100 ms)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kimera.config import KimeraConfig
from marketsim.exchange_server import ExchangeServer, Market
from tests.support.config import config_with

FAST_RETRY = {"attempts": 4, "backoff_s": 0.05, "max_backoff_s": 0.2, "timeout_s": 2.0}


@pytest.fixture
def fast_exchange() -> Iterator[ExchangeServer]:
    with ExchangeServer(Market(trade_interval_ms=100)) as server:
        yield server


def stream_config(server: ExchangeServer, **stream: Any) -> KimeraConfig:
    return config_with(
        exchange={
            "source": "ccxt",
            "ccxt_venues": [server.venue("binance")],
            "book_depth": 5,
            "retry": FAST_RETRY,
            "stream": {"flush_seconds": 0.5, "book_seconds": 0.5, "reconnect_max_s": 1.0, **stream},
        }
    )
