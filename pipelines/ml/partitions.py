"""The training partitions: one per day; partition D trains on everything known before D + 1 day."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from dagster import AssetExecutionContext

from kimera.config import load_config


def training_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions from the config's ``start``; a partition's end is its training end."""
    start = load_config().start  # a bad config fails here, at load, with the key and value named
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def training_end(context: AssetExecutionContext) -> datetime:
    """The data window the run names: bars with ``bar_time`` before this (naive UTC) are used."""
    end = context.partition_time_window.end
    return datetime(end.year, end.month, end.day, end.hour, end.minute)
