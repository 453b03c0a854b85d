"""Fixtures for the live-source tests: a local exchange the real ccxt clients talk to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kimera.config import KimeraConfig
from tests.support.config import config_with
from tests.support.exchange import ExchangeServer

FAST_RETRY = {"attempts": 4, "backoff_s": 0.05, "max_backoff_s": 0.2, "timeout_s": 2.0}


@pytest.fixture
def exchange_server() -> Iterator[ExchangeServer]:
    with ExchangeServer() as server:
        yield server


def ccxt_config(server: ExchangeServer, *exchanges: str, venue: dict[str, Any] | None = None,
                **exchange: Any) -> KimeraConfig:  # fmt: skip
    """Assets BTC and ETH on the given exchanges, all pointed at ``server``, with quick retries."""
    section = {
        "source": "ccxt",
        "timeframe": "1m",
        "ccxt_venues": [server.venue(e, **(venue or {})) for e in exchanges],
        "retry": FAST_RETRY,
        **exchange,
    }
    return config_with(exchange=section)
