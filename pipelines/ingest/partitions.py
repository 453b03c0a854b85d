"""Hourly partitions from the config's ``start``, UTC; every time-partitioned domain shares them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from dagster import HourlyPartitionsDefinition, TimeWindow

PARTITION_FORMAT = "%Y-%m-%d-%H:%M"


@lru_cache(maxsize=8)
def hourly_partitions(start: date) -> HourlyPartitionsDefinition:
    """Hourly partitions from ``start`` (00:00 UTC) up to the last complete hour.

    Cached, so every domain asking with the same start gets the same definition object.
    """
    return HourlyPartitionsDefinition(
        start_date=datetime(start.year, start.month, start.day), timezone="UTC", fmt=PARTITION_FORMAT
    )


def partition_key(moment: datetime) -> str:
    """The key of the hourly partition that starts at ``moment`` (naive UTC)."""
    return moment.strftime(PARTITION_FORMAT)


def naive_window(window: TimeWindow) -> tuple[datetime, datetime]:
    """A Dagster time window as naive UTC datetimes, the way the warehouse stores time."""
    return (
        window.start.astimezone(UTC).replace(tzinfo=None),
        window.end.astimezone(UTC).replace(tzinfo=None),
    )


def partition_keys_between(start: datetime, end: datetime) -> tuple[str, str]:
    """First and last hourly partition keys covering ``[start, end)`` (both naive UTC, whole hours)."""
    if start.minute or start.second or start.microsecond or end.minute or end.second or end.microsecond:
        raise ValueError(f"window [{start}, {end}) must start and end on whole hours")
    if not start < end:
        raise ValueError(f"window start {start} must be before its end {end}")
    return partition_key(start), partition_key(end - timedelta(hours=1))
