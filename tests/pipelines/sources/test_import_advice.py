"""What `kimera import` says to set when the config cannot build features from the imported candles.

A new user's config keeps the shipped simulated exchange: with only their asset listed, the simulated
world no longer fits (its chain's tokens name the other assets), and the code location refuses it.
The summary names the way out, `exchange.source: file`, and stays silent when the config fits.
"""

from __future__ import annotations

from datetime import datetime

from pipelines.sources.files import Imported, import_summary
from tests.support.config import config_with

DUMP = [
    Imported(
        "BTCUSDT-1h-2024-01.zip", "exchange_ohlcv", 744, datetime(2024, 1, 1), datetime(2024, 2, 1), "1h"
    )
]


def test_a_sim_config_reduced_to_the_users_asset_is_told_to_read_files() -> None:
    config = config_with(
        start="2024-01-01",
        assets=[{"symbol": "BTC", "quote": "USDT"}],
        exchange={"source": "sim", "timeframe": "1h"},
    )
    lines = import_summary(DUMP, "BTC/USDT", config)
    assert "to build features from it, set in kimera.yaml:" in lines
    assert any(line.strip().startswith("exchange.source: file") for line in lines), lines
    assert lines[-1] == "next: kimera features --from '2024-01-01 00:00' --to '2024-02-01 00:00'"


def test_a_config_that_fits_the_dump_gets_no_advice() -> None:
    config = config_with(
        start="2024-01-01",
        assets=[{"symbol": "BTC", "quote": "USDT"}],
        exchange={"source": "file", "timeframe": "1h", "files": [{"path": "dumps/*.zip", "venue": "binance", "symbol": "BTC/USDT"}]},
    )  # fmt: skip
    lines = import_summary(DUMP, "BTC/USDT", config)
    assert not any("set in kimera.yaml" in line for line in lines), lines
