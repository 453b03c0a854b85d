"""Clocks: simulated time never waits, accelerated time runs faster, none goes back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from live.clock import AcceleratedClock, LiveClock, PacedClock, TestClock

T0 = datetime(2026, 1, 1)


def test_test_clock_jumps_to_what_it_sleeps_until_and_refuses_the_past():
    clock = TestClock(T0)
    asyncio.run(clock.sleep_until(T0 + timedelta(days=3)))
    assert clock.now() == T0 + timedelta(days=3)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance_to(T0)


def test_accelerated_clock_reaches_simulated_time_faster_than_the_wall():
    clock = AcceleratedClock(T0, speed=3600)  # an hour per second
    asyncio.run(clock.sleep_until(T0 + timedelta(minutes=3)))  # ~50 ms of wall
    assert clock.now() >= T0 + timedelta(minutes=3)
    assert clock.now() < T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="speed must be positive"):
        AcceleratedClock(T0, speed=0)


def test_live_clock_carries_a_stated_skew():
    ahead = LiveClock(skew=timedelta(seconds=5))
    assert ahead.now() - LiveClock().now() > timedelta(seconds=4)


def test_paced_clock_stands_still_between_sleeps_and_moves_only_to_what_it_sleeps_until():
    clock = PacedClock(T0, speed=1e9, paced_from=T0 + timedelta(hours=1))

    async def scenario() -> list[datetime]:
        seen = [clock.now()]
        await asyncio.sleep(0.01)  # the loop busy elsewhere (a hook): exchange time does not run on
        seen.append(clock.now())
        await clock.sleep_until(T0 + timedelta(minutes=30))  # a warm-up sleep
        seen.append(clock.now())
        await clock.sleep_until(T0 + timedelta(hours=2))  # a paced one
        seen.append(clock.now())
        await clock.sleep_until(T0)  # the past: no move back
        seen.append(clock.now())
        return seen

    assert asyncio.run(scenario()) == [
        T0,
        T0,
        T0 + timedelta(minutes=30),
        T0 + timedelta(hours=2),
        T0 + timedelta(hours=2),
    ]
    with pytest.raises(ValueError, match="speed must be positive"):
        PacedClock(T0, speed=-1)
