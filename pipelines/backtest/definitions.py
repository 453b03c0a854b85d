"""The backtest domain: ``ml/backtest`` (``python -m backtest`` in a subprocess)."""

from __future__ import annotations

from dagster import Definitions

from pipelines.backtest.assets import backtest_asset

defs = Definitions(assets=[backtest_asset])
