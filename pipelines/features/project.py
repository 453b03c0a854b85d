"""The dbt project (``dbt_project/``) and the vars the config passes to it.

``dbt_vars`` is the one translation from ``kimera.yaml`` to dbt: the bar, windows and label
horizons of the ``features`` section, the candle timeframe and traded pairs, and, for a partition
run, the raw-time window ``[window_start, window_end)`` that the incremental models rebuild.
"""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from kimera.config import TIMEFRAME_SECONDS, ConfigError, KimeraConfig
from kimera.sessions import closed_date_slots, closed_slots

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt CLI of this Python environment (the venv's bin need not be on PATH)."""
    beside = Path(sys.executable).with_name("dbt")
    found = str(beside) if beside.exists() else shutil.which("dbt")
    if not found:
        raise FileNotFoundError("the dbt CLI is not installed in this environment (run `make setup`)")
    return found


def dbt_vars(config: KimeraConfig, window: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
    """dbt ``--vars`` for ``config``; with ``window`` (naive UTC) an incremental run rebuilds only it.

    Raises ConfigError when the bar is not a whole number of the exchange's candles.
    """
    features = config.features
    bar_s, candle_s = TIMEFRAME_SECONDS[features.bar], TIMEFRAME_SECONDS[config.exchange.timeframe]
    if bar_s % candle_s:
        raise ConfigError(
            f"features.bar = {features.bar!r} is not accepted: it must be a whole number of "
            f"exchange.timeframe = {config.exchange.timeframe!r} candles"
        )
    dbt = {
        "bar": features.bar,
        "candle_timeframe": config.exchange.timeframe,
        "symbols": [a.pair for a in config.assets],
        "horizons": list(features.horizons),
        "return_lags": list(features.return_lags),
        "lookback_bars": features.lookback_bars,
        "vol_window": features.vol_window,
        "zscore_window": features.zscore_window,
        "book_levels": features.book_levels,
        # markets that close (sessions other than 24/7, or closed dates): their closed bar slots
        # are not bars, so windows and label horizons count trading bars (kimera.sessions)
        "session_assets": _session_assets(config, bar_s * 1_000_000),
    }
    if window is not None:
        start, end = window
        if not start < end:
            raise ValueError(f"window start {start} must be before its end {end}")
        dbt["window_start"] = start.isoformat()
        dbt["window_end"] = end.isoformat()
    return dbt


def _session_assets(config: KimeraConfig, bar_us: int) -> dict[str, dict[str, list[list[int]]]] | None:
    """Per asset whose market closes: ``weekly``, the week's closed bar slots ``[first, last]`` from
    Monday 00:00, and ``dates``, the closed dates' bar slots ``[first slot start in µs, count]``
    (macro ``bar_index``); None when every asset trades around the clock."""
    sessions = {
        symbol: {
            "weekly": [list(s) for s in closed_slots(calendar, bar_us)],
            "dates": [list(r) for r in closed_date_slots(calendar, bar_us)],
        }
        for symbol, calendar in config.sessions.items()
        if not calendar.always_open
    }
    return sessions or None
