"""The warehouse's raw events, replayed in event-time order as a feed of the live loop.

:class:`ReplayFeed` reads each ``raw.*`` table the online features take (trades, book snapshots,
candles, DEX swaps and reserves, chain blocks, transfers) from DuckDB, read-only, as Arrow record
batches ordered by event time, and merges them by time into steps of one bar: every row with time
in ``[t, t + step)`` of every table, then a watermark at ``t + step``. That is what the simulator's
live feed yields, so the same loop, online features, model and decisions run on it, on a
:class:`~live.clock.TestClock` that the feed moves (the replay runs as fast as the code does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from live.clock import Clock
from live.events import Event, RawRows, Watermark
from live.features import RAW_TIME_COLUMNS, REFERENCE_TABLES

BATCH_ROWS = 65_536


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot reach the file system beyond the warehouse."""
    if not path.exists():
        raise FileNotFoundError(
            f"no warehouse at {path}: ingest a window first (kimera ingest or kimera demo)"
        )
    con = duckdb.connect(str(path), read_only=True, config={"threads": 1})
    con.execute("set enable_external_access = false")
    return con


def raw_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
    ).fetchall()
    return {r[0] for r in rows}


@dataclass
class _Stream:
    """One table's rows in time order: record batches read ahead, sliced at step boundaries."""

    table: str
    column: str
    reader: pa.RecordBatchReader
    pending: pa.Table | None = None
    done: bool = False

    def take_until(self, until: datetime) -> pa.Table | None:
        """Every remaining row with time before ``until`` (reading batches as needed)."""
        parts: list[pa.Table] = []
        limit = np.datetime64(until, "us")
        while True:
            if self.pending is None or self.pending.num_rows == 0:
                if self.done:
                    break
                try:
                    self.pending = pa.Table.from_batches([self.reader.read_next_batch()])
                except StopIteration:
                    self.done, self.pending = True, None
                    break
            times = self.pending.column(self.column).to_numpy()
            cut = int(np.searchsorted(times, limit, side="left"))
            if cut == 0:
                break
            parts.append(self.pending.slice(0, cut))
            self.pending = self.pending.slice(cut)
            if self.pending.num_rows:
                break
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


@dataclass
class ReplayFeed:
    """Raw events of ``[start, end)`` from ``warehouse``, one bar ``step`` at a time.

    ``observe`` (optional) sees every event just before the loop does: the backtest's market and
    venues read the same rows as the features.
    """

    warehouse: Path
    start: datetime
    end: datetime
    step: timedelta
    observe: Callable[[Event], None] | None = None
    rows_read: int = 0
    tables_read: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"the replay window is empty: --from {self.start} is not before --to {self.end}")
        if self.step <= timedelta(0):
            raise ValueError(f"the replay step must be positive, got {self.step}")

    def reference_tables(self) -> dict[str, pa.Table]:
        with read_only(self.warehouse) as con:
            present = raw_tables(con)
            return {
                t: con.sql(f"select * from raw.{t}").to_arrow_table()
                for t in REFERENCE_TABLES
                if t in present
            }

    def streams(self, con: duckdb.DuckDBPyConnection) -> list[_Stream]:
        present = raw_tables(con)
        out = []
        for table, column in RAW_TIME_COLUMNS.items():
            if table not in present:
                continue
            cursor = con.cursor()  # one result stream per table, merged here by time
            query = cursor.sql(
                f"select * from raw.{table} where {column} >= $start and {column} < $end order by {column}",
                params={"start": self.start, "end": self.end},
            )
            out.append(_Stream(table, column, query.to_arrow_reader(BATCH_ROWS)))
        self.tables_read = [s.table for s in out]
        return out

    async def events(self, clock: Clock) -> AsyncIterator[Event]:
        con = read_only(self.warehouse)
        try:
            streams = self.streams(con)
            t = self.start
            while t < self.end:
                until = min(t + self.step, self.end)
                await clock.sleep_until(until)
                received = clock.monotonic()
                for stream in streams:
                    rows = stream.take_until(until)
                    if rows is not None and rows.num_rows:
                        self.rows_read += rows.num_rows
                        event = RawRows(stream.table, rows, received)
                        if self.observe is not None:
                            self.observe(event)
                        yield event
                mark = Watermark(until, received)
                if self.observe is not None:
                    self.observe(mark)
                yield mark
                t = until
        finally:
            con.close()
