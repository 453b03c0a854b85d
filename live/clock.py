"""Clocks the loop is given: the wall, an accelerated wall, a paced simulated one, or a test one.

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


class PacedClock:
    """Simulated time that moves only while the loop sleeps on it, ``speed`` times faster than the wall.

    Between two sleeps exchange time stands still: while the loop computes a bar, or while a hook
    of the application moves a paper market to that bar and waits for the service to finish the
    bar's orders, the clock does not run ahead of the market it trades. An
    :class:`AcceleratedClock` keeps running meanwhile, so after a slow hook the feed would hand
    on the next bars at once, each bar's orders filling against a market still at an earlier bar.
    Sleeps that end at or before ``paced_from`` do not wait (warm-up bars replay as fast as the
    code runs, as on a :class:`TestClock`); later ones wait ``(moment - now) / speed`` of the wall.
    """

    def __init__(self, start: datetime, speed: float, paced_from: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive (1 is real time), got {speed}")
        self._now, self.speed, self.paced_from = start, speed, paced_from

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(0)  # let other tasks (the sender) run, as a real sleep would
        if moment <= self._now:
            return
        if self.paced_from is None or moment > self.paced_from:
            await asyncio.sleep((moment - self._now).total_seconds() / self.speed)
        self._now = max(self._now, moment)

    def monotonic(self) -> float:
        return time.perf_counter()
