"""The warehouse's raw events, replayed in event-time order as a feed of the live loop.

:class:`ReplayFeed` reads each ``raw.*`` table the online features take (trades, book snapshots,
candles, DEX swaps and reserves, chain blocks, transfers) from DuckDB, read-only, as Arrow record
batches ordered by event time, and merges them by time into steps of one bar: every row with time
in ``[t, t + step)`` of every table, then a watermark at ``t + step``. That is what the simulator's
live feed yields, so the same loop, online features, model and decisions run on it, on a
:class:`~live.clock.TestClock` that the feed moves (the replay runs as fast as the code does).

The tables are read a ``window`` of bars at a time (``backtest.window_days``): one sorted query per
table and window, closed before the next window's, so what DuckDB and the feed hold is bounded by
the window, not by the span replayed. Each table is ordered by its time column and then its
natural key (a total order), so a row's place in a step does not depend on where a window starts:
any window gives the loop the same steps, row for row, as one window over the whole span.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from kimera.config import ConfigError
from kimera.schema import RAW_TABLES
from live.clock import Clock
from live.events import Event, RawRows, Watermark
from live.features import RAW_TIME_COLUMNS, REFERENCE_TABLES

BATCH_ROWS = 65_536


def read_only(path: Path, memory_mb: int | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection that cannot reach the file system beyond the warehouse; ``memory_mb``
    caps DuckDB's memory (its cache of the file's pages included, kept otherwise up to 80 % of RAM)."""
    if not path.exists():
        raise FileNotFoundError(
            f"no warehouse at {path}: ingest a window first (kimera ingest or kimera demo)"
        )
    config: dict[str, str | int] = {"threads": 1}
    if memory_mb is not None:
        config["memory_limit"] = f"{memory_mb}MB"
    con = duckdb.connect(str(path), read_only=True, config=config)
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
    cursor: duckdb.DuckDBPyConnection | None = None
    pending: pa.Table | None = None
    done: bool = False

    def close(self) -> None:
        """Release the query (DuckDB frees its sorted result)."""
        self.reader.close()
        if self.cursor is not None:
            self.cursor.close()

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
    """Raw events of ``[start, end)`` from ``warehouse``, one bar ``step`` at a time, read from the
    warehouse ``window`` at a time (a whole number of steps; None: the span in one query per table).

    ``observe`` (optional) sees every event just before the loop does: the backtest's market and
    venues read the same rows as the features.
    """

    warehouse: Path
    start: datetime
    end: datetime
    step: timedelta
    observe: Callable[[Event], None] | None = None
    window: timedelta | None = None
    memory_mb: int | None = None  # the feed connection's memory limit (None: DuckDB's default)
    rows_read: int = 0
    windows_read: int = 0
    tables_read: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"the replay window is empty: --from {self.start} is not before --to {self.end}")
        if self.step <= timedelta(0):
            raise ValueError(f"the replay step must be positive, got {self.step}")
        if self.window is not None and (self.window <= timedelta(0) or self.window % self.step):
            raise ValueError(
                f"the replay window {self.window} is not accepted: give a positive whole number of "
                f"{self.step} steps (or none, to read the span at once)"
            )

    def windows(self) -> list[tuple[datetime, datetime]]:
        """The read windows ``[from, to)`` covering the span, in order (the last one may be short)."""
        if self.window is None:
            return [(self.start, self.end)]
        out, t = [], self.start
        while t < self.end:
            out.append((t, min(t + self.window, self.end)))
            t = out[-1][1]
        return out

    def reference_tables(self) -> dict[str, pa.Table]:
        with read_only(self.warehouse) as con:
            present = raw_tables(con)
            return {
                t: con.sql(f"select * from raw.{t}").to_arrow_table()
                for t in REFERENCE_TABLES
                if t in present
            }

    def streams(
        self, con: duckdb.DuckDBPyConnection, start: datetime | None = None, end: datetime | None = None
    ) -> list[_Stream]:
        """One time-ordered stream per raw table of ``[start, end)`` (default: the whole span)."""
        start, end = start or self.start, end or self.end
        present = raw_tables(con)
        out = []
        for table, column in RAW_TIME_COLUMNS.items():
            if table not in present:
                continue
            order = ", ".join(
                dict.fromkeys((column, *(RAW_TABLES[table].key if table in RAW_TABLES else ())))
            )
            cursor = con.cursor()  # one result stream per table, merged here by time
            query = cursor.sql(
                f"select * from raw.{table} where {column} >= $start and {column} < $end order by {order}",
                params={"start": start, "end": end},
            )
            out.append(_Stream(table, column, query.to_arrow_reader(BATCH_ROWS), cursor))
        self.tables_read = [s.table for s in out]
        return out

    async def events(self, clock: Clock) -> AsyncIterator[Event]:
        con = read_only(self.warehouse, self.memory_mb)
        try:
            for window_start, window_end in self.windows():
                try:
                    streams = self.streams(con, window_start, window_end)
                except duckdb.OutOfMemoryException as error:
                    raise ConfigError(
                        f"the replay's window [{window_start}, {window_end}) does not fit in backtest.memory_mb "
                        f"({self.memory_mb} MB) once sorted: shorten backtest.window_days or raise backtest.memory_mb"
                    ) from error
                self.windows_read += 1
                try:
                    t = window_start
                    while t < window_end:
                        until = min(t + self.step, window_end)
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
                    for stream in streams:
                        stream.close()
        finally:
            con.close()
