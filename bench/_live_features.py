"""Where the online-feature stage of ``kimera live`` spends its time, at the loop's steady state,
on the simulator's stream with a test clock (bars as fast as the code; the same compiled SQL and
buffers as the shipped loop).

One pass over the feed fills several buffers side by side, each closing every bar in turn: the
shipped way (one script per bar in one transaction), models at once (``live.feature_workers``), an
exchange-only feed (the on-chain rows withheld from it), and model by model (each model's
statements timed on their own). The simulator's feed costs more than the features per bar, so one
pass instead of four keeps the bench to minutes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

from kimera.config import TIMEFRAME_SECONDS, KimeraConfig


def steady_from(config: KimeraConfig) -> int:
    """Bars before the loop's steady state: every trailing window full, so the features model reads
    its longest window back from each bar, as a loop that has run for a week does (the first bars
    read nearly empty tables and cost a third less)."""
    from live.run import needed_bars

    return needed_bars(config) + 1


@dataclass
class Variant:
    """One buffer of the pass: how it runs and what it was given."""

    name: str
    workers: int = 1
    exchange_only: bool = False
    per_model: bool = False
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    skipped: int = 0
    model_times: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def p50_ms(self, values: list[float], bars: int) -> float:
        return float(np.median(values[-bars:]) * 1e3)


ON_CHAIN = ("chain_blocks", "token_transfers", "dex_swaps", "dex_pool_reserves")


class _SideBySide:
    """The loop's features object over several buffers: every raw row to each (the on-chain ones
    withheld from exchange-only buffers), every bar closed on each in turn and timed; the loop goes
    on with the first buffer's rows."""

    def __init__(self, compiled: Path, config: KimeraConfig, variants: list[Variant]) -> None:
        from live.features import OnlineFeatures

        self.variants = variants
        self.buffers = []
        for v in variants:
            buffer = OnlineFeatures(compiled, retention_bars=config.live.retention_bars, workers=v.workers)
            if v.per_model:
                buffer.model_times = v.model_times
            self.buffers.append(buffer)
        self.bar = self.buffers[0].bar

    def load_reference(self, table, rows) -> None:
        for buffer in self.buffers:
            buffer.load_reference(table, rows)

    def append(self, table, rows) -> None:
        for v, buffer in zip(self.variants, self.buffers, strict=True):
            if not (v.exchange_only and table in ON_CHAIN):
                buffer.append(table, rows)

    def close_bar(self, bar_time):
        import time

        out = None
        for v, buffer in zip(self.variants, self.buffers, strict=True):
            # the process's CPU while this buffer closes the bar: its pool's threads included
            wall, cpu = time.perf_counter(), time.process_time()
            rows = buffer.close_bar(bar_time)
            v.walls.append(time.perf_counter() - wall)
            v.cpus.append(time.process_time() - cpu)
            out = rows if out is None else out
        return out

    def prune(self) -> None:
        for buffer in self.buffers:
            buffer.prune()

    def close(self) -> None:
        for v, buffer in zip(self.variants, self.buffers, strict=True):
            v.skipped = sum(buffer.skipped.values()) // max(len(v.walls), 1)
            buffer.close()


def side_by_side(compiled: Path, config: KimeraConfig, bars: int, variants: list[Variant]) -> list[Variant]:
    """Run ``variants`` over :func:`steady_from` warm-up bars and then ``bars`` measured bars."""
    from live.clock import TestClock
    from live.feeds.sim import SimFeed
    from live.loop import Loop

    start = config.start_time
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    end = start + (steady_from(config) + bars) * bar
    features = _SideBySide(compiled, config, variants)
    try:
        # a bar's rows in one step: a bar closes on the same rows whatever the step, and the feed
        # costs far less in whole bars than candle by candle
        feed = SimFeed(config, start, end, step=bar)
        asyncio.run(Loop(TestClock(start), feed, features, lambda _: None).run())  # type: ignore[arg-type]
    finally:
        features.close()
    return variants


def per_model_p50(variant: Variant, bars: int) -> dict[str, tuple[float, float]]:
    """{model: (wall p50 ms, CPU p50 ms)} per bar, dependencies first, over the last ``bars`` bars."""
    spent = {name: np.array(times[-bars:]) * 1e3 for name, times in variant.model_times.items()}
    return {name: (float(np.median(t[:, 0])), float(np.median(t[:, 1]))) for name, t in spent.items()}
