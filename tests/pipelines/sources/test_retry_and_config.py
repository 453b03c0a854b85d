"""Retry-After parsing, bounded retries, and the live sections of the config file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connect.http import retry_after_seconds
from kimera.config import ConfigError, RetryConfig
from pipelines.sources.retry import SourceUnavailable, call_with_retries, redact
from tests.support.config import REPO_CONFIG, config_with, shipped_config_data


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "1.5"}) == 1.5
    assert retry_after_seconds({"Retry-After": "Thu, 01 Jan 2026 12:00:30 GMT"}, now=now) == 30.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


def test_non_transient_errors_are_not_retried_and_transient_ones_are_bounded() -> None:
    calls = []
    config = RetryConfig(attempts=3, backoff_s=0.01)

    def bad_symbol():
        calls.append(1)
        raise KeyError("no such symbol")

    with pytest.raises(KeyError):
        call_with_retries(
            bad_symbol, config=config, what="x", retryable=lambda e: isinstance(e, TimeoutError)
        )
    assert len(calls) == 1

    def flaky():
        calls.append(2)
        raise TimeoutError("https://node.example/v3/KEY-42 timed out")

    with pytest.raises(SourceUnavailable) as err:
        call_with_retries(flaky, config=config, what="node eth_call", retryable=lambda e: True,
                          secrets=["https://node.example/v3/KEY-42"])  # fmt: skip
    assert calls.count(2) == 3
    assert "node eth_call: unreachable after 3 attempt(s)" in str(err.value)
    assert "KEY-42" not in str(err.value) and "*** timed out" in str(err.value)


def test_redact_masks_every_secret() -> None:
    assert redact("key=abc secret=xyz", ["abc", None, "xyz", ""]) == "key=*** secret=***"


def test_the_commented_live_examples_in_kimera_yaml_are_valid() -> None:
    text = REPO_CONFIG.read_text()
    assert "ccxt_venues:" in text and "rpc_url_secret" in text
    config = config_with(
        exchange={
            "source": "ccxt",
            "ccxt_venues": [{"exchange": "binance"}, {"exchange": "kraken"}, {"exchange": "coinbase", "quote": "USD"},
                            {"exchange": "htx", "symbols": {"BTC": "BTC/USDT"}}],
            "retry": {"attempts": 5, "backoff_s": 0.5, "max_backoff_s": 30, "max_retry_after_s": 120, "timeout_s": 15},
            "stream": {"trades": True, "order_books": True, "flush_seconds": 10, "reconnect_max_s": 30},
        },
        chain={**shipped_config_data()["chain"], "source": "rpc", "rpc_url_secret": "eth_rpc_url"},
        dex={**shipped_config_data()["dex"], "source": "rpc"},
    )  # fmt: skip
    assert [v.venue for v in config.exchange.ccxt_venues] == ["binance", "kraken", "coinbase", "htx"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"exchange": {"source": "ccxt"}}, "source 'ccxt' needs ccxt_venues"),
        ({"exchange": {"source": "file"}}, "source 'file' needs files"),
        (
            {
                "exchange": {
                    "source": "ccxt",
                    "ccxt_venues": [{"exchange": "binance"}, {"exchange": "binance"}],
                }
            },
            "ccxt venue names must be unique",
        ),
        ({"chain": {"source": "rpc"}}, "source 'rpc' needs rpc_url"),
        (
            {"chain": {"source": "rpc", "rpc_url": "wss://node.example"}},
            "websocket RPC URLs are not supported",
        ),
    ],  # fmt: skip
)
def test_live_sections_refuse_incomplete_settings(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_with(**section)
    assert message in str(err.value)
