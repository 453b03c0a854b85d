"""Clocks: simulated time never waits, accelerated time runs faster, none goes back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from live.clock import AcceleratedClock, LiveClock, TestClock

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
