"""Time bookkeeping: the epoch, day chunks, minutes and block slots, all in integer microseconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

import numpy as np

US_PER_S = 1_000_000
US_PER_MINUTE = 60 * US_PER_S
US_PER_DAY = 86_400 * US_PER_S
MINUTES_PER_DAY = 1440
MINUTES_PER_YEAR = 365 * MINUTES_PER_DAY  # crypto trades every day: annualise over 365 days
_UNIX = datetime(1970, 1, 1)


class SimWindowError(ValueError):
    """A window or instant the simulator cannot serve (before its epoch, or reversed)."""


def to_micros(t: datetime) -> int:
    """Microseconds since 1970-01-01 UTC; naive datetimes are taken as UTC."""
    if not isinstance(t, datetime):
        raise SimWindowError(f"expected a datetime (naive UTC), got {type(t).__name__} {t!r}")
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    delta = t - _UNIX
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def from_micros(us: int) -> datetime:
    return _UNIX + timedelta(microseconds=int(us))


@dataclass(frozen=True)
class Blocks:
    """The block slots of one day: global slot indices ``k0 <= k < k1`` at ``k * block_seconds``."""

    day: int
    k0: int
    k1: int
    block_seconds: int
    first_block: int
    epoch_us: int

    @staticmethod
    def of_day(day: int, block_seconds: int, first_block: int, epoch_us: int) -> Blocks:
        k0 = -(-day * 86_400 // block_seconds)  # ceil: first slot at or after the day's start
        k1 = -(-(day + 1) * 86_400 // block_seconds)
        return Blocks(day, k0, k1, block_seconds, first_block, epoch_us)

    @property
    def count(self) -> int:
        return self.k1 - self.k0

    @cached_property
    def slots(self) -> np.ndarray:
        return np.arange(self.k0, self.k1, dtype=np.int64)

    @cached_property
    def numbers(self) -> np.ndarray:
        return self.first_block + self.slots

    @cached_property
    def seconds_in_day(self) -> np.ndarray:
        """Seconds from the day's start to each block."""
        return self.slots * self.block_seconds - self.day * 86_400

    @cached_property
    def micros(self) -> np.ndarray:
        return self.epoch_us + self.slots * (self.block_seconds * US_PER_S)
