"""The training partitions: one per day; partition D trains on everything known before D + 1 day."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from dagster import AssetExecutionContext

from kimera.config import load_config


def training_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions from the config's ``start``; a partition's end is its training end."""
    try:
        start = load_config().start
    except Exception:  # no config at import (e.g. a bare `dagster definitions validate`): a safe default
        start = datetime(2026, 1, 1).date()
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def training_end(context: AssetExecutionContext) -> datetime:
    """The data window the run names: bars with ``bar_time`` before this (naive UTC) are used."""
    end = context.partition_time_window.end
    return datetime(end.year, end.month, end.day, end.hour, end.minute)
