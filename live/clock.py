"""Clocks the loop is given: the wall, an accelerated wall, or a simulated one.

Nothing in the loop reads the wall itself. ``now()`` is naive UTC; ``sleep_until(t)`` returns once
``now() >= t``. A :class:`TestClock` never waits: sleeping moves it to ``t`` (replays run as fast
as the code does). ``monotonic()`` times stages; on a test clock it is the wall's, because a
latency is a property of the code, not of the simulated market.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, moment: datetime) -> None: ...

    def monotonic(self) -> float: ...


def _wall() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class LiveClock:
    """The wall clock, optionally ``skew`` ahead of it (to test a skewed host against an exchange)."""

    def __init__(self, skew: timedelta = timedelta(0)) -> None:
        self.skew = skew

    def now(self) -> datetime:
        return _wall() + self.skew

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(0)  # a loop running behind still lets the other tasks (the sender) run
        while (left := (moment - self.now()).total_seconds()) > 0:
            await asyncio.sleep(left)

    def monotonic(self) -> float:
        return time.perf_counter()


class AcceleratedClock:
    """Simulated time starting at ``start`` that runs ``speed`` times faster than the wall."""

    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive (1 is real time), got {speed}")
        self.start, self.speed = start, speed
        self._origin = time.perf_counter()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.perf_counter() - self._origin) * self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(0)  # a loop running behind still lets the other tasks (the sender) run
        while (left := (moment - self.now()).total_seconds()) > 0:
            await asyncio.sleep(left / self.speed)

    def monotonic(self) -> float:
        return time.perf_counter()


class TestClock:
    """A simulated clock that only moves when told to (or when the loop sleeps on it)."""

    __test__ = False  # not a pytest class

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance_to(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError(f"a clock does not go back: {moment} is before {self._now}")
        self._now = moment

    async def sleep_until(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would

    def monotonic(self) -> float:
        return time.perf_counter()
