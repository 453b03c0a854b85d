"""The simulator's own events, as they happen on the loop's clock.

Every ``step`` of exchange time the feed sleeps until the step's end on the clock, then yields the
rows of every raw table with time in ``[t, t + step)`` (a candle with its open there, which has
closed by ``t + step``) and a watermark at ``t + step``. On a live clock that is real time; on an
accelerated clock, ``speed`` times faster; on a test clock, as fast as the code runs. The rows are
the ones the sim source of the batch ingest writes for the same window, so the online features and
``marts.features`` see the same data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pyarrow as pa

from connect.sim import simulator_from_config
from kimera.config import TIMEFRAME_SECONDS, KimeraConfig
from kimera.schema import PARTITIONED_TABLES, RAW_TABLES, conform
from live.clock import Clock
from live.events import Event, RawRows, Watermark


class SimFeed:
    def __init__(
        self,
        config: KimeraConfig,
        start: datetime,
        end: datetime | None = None,
        step: timedelta | None = None,
    ) -> None:
        candle = timedelta(seconds=TIMEFRAME_SECONDS[config.exchange.timeframe])
        step = step or candle
        if step <= timedelta(0) or step % candle:
            raise ValueError(
                f"the sim feed's step {step} must be a whole number of exchange.timeframe "
                f"({config.exchange.timeframe}) candles"
            )
        if start.timestamp() % candle.total_seconds():
            raise ValueError(f"the sim feed's start {start} is not on the {config.exchange.timeframe} grid")
        self.config, self.start, self.end, self.step = config, start, end, step
        self.simulator = simulator_from_config(config)

    def reference_tables(self) -> dict[str, pa.Table]:
        """Pools, tokens and wallet labels of the simulated chain, conformed."""
        return {n: conform(RAW_TABLES[n], t) for n, t in self.simulator.reference_tables().items()}

    async def events(self, clock: Clock) -> AsyncIterator[Event]:
        t = self.start
        while self.end is None or t < self.end:
            until = t + self.step if self.end is None else min(t + self.step, self.end)
            await clock.sleep_until(until)
            tables = self.simulator.generate(t, until)
            # the rows arrive now: the simulator standing in for an exchange takes time to make them,
            # which an exchange's stream does not add to the loop's tick-to-trade
            received = clock.monotonic()
            # the simulator makes the tables it declares (lending and V3 liquidity come from other sources)
            for table in (t for t in PARTITIONED_TABLES if t.simulated):
                rows = tables[table.name]
                if rows.num_rows:
                    yield RawRows(table.name, conform(table, rows), received)
            yield Watermark(until, received)
            t = until
