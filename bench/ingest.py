"""Ingest throughput: simulator batches into DuckDB through the real write path, beside DuckDB's ceiling.

The real path is :func:`pipelines.ingest.write.ingest_window` for every partitioned raw table, in
the config's chunks (``ingest.chunk_hours``): contract cast, window and scope check, key checks,
delete and insert in one transaction per chunk. The simulator's batches are made before the clock
starts, so only the write path is timed. The ceiling, measured in the same run, is one
``INSERT INTO raw.<table> SELECT * FROM <Arrow table>`` of the same rows into an empty table of the
same definition. Each side is run ``repeats`` times on fresh files and the best run counts (the
machine is shared: the best run is the least disturbed one).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from bench import Measure
from kimera.config import load_config
from kimera.schema import PARTITIONED_TABLES
from pipelines.ingest.feeds import FEEDS
from pipelines.ingest.write import ingest_window, split_window
from pipelines.sources import Sources, make_sources
from pipelines.warehouse import ensure_raw_schema

GOAL = 0.5


class _Recorded:
    """A source whose answers are computed once and then replayed (so timing leaves the simulator out)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self._answers: dict[tuple[Any, ...], Any] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        real = getattr(self._inner, name)

        def call(*args: Any) -> Any:
            key = (name, *args)
            if key not in self._answers:
                self._answers[key] = real(*args)
            return self._answers[key]

        return call


def _batches(days: int) -> tuple[Sources, Any, Any, timedelta, dict[str, pa.Table]]:
    config = load_config()
    real = make_sources(config)
    sources = Sources(_Recorded(real.exchange), _Recorded(real.chain), _Recorded(real.dex))
    start = config.start_time
    end = start + timedelta(days=days)
    chunk = timedelta(hours=config.ingest.chunk_hours)
    every: dict[str, pa.Table] = {}
    for name, feed in FEEDS.items():
        feed.scope(sources)
        batches = [feed.fetch(sources, a, b) for a, b in split_window(start, end, chunk)]
        every[name] = pa.concat_tables(batches)
    return sources, start, end, chunk, every


def _real_path(folder: Path, sources: Sources, start, end, chunk: timedelta) -> tuple[float, float]:
    """Seconds for a first write of every table, and for rewriting the same windows."""
    with duckdb.connect(str(folder / "real.duckdb")) as con:
        timings = []
        for _ in range(2):
            began = time.perf_counter()
            for feed in FEEDS.values():
                ingest_window(con, feed, sources, start, end, chunk=chunk)
            timings.append(time.perf_counter() - began)
    return timings[0], timings[1]


def _ceiling(folder: Path, every: dict[str, pa.Table]) -> float:
    """Seconds for one INSERT ... SELECT per table of the same rows into empty tables."""
    with duckdb.connect(str(folder / "ceiling.duckdb")) as con:
        ensure_raw_schema(con, PARTITIONED_TABLES)
        elapsed = 0.0
        for table in PARTITIONED_TABLES:
            con.register("_rows", every[table.name])
            began = time.perf_counter()
            con.execute(f"INSERT INTO {table.qualified} SELECT * FROM _rows")
            elapsed += time.perf_counter() - began
            con.unregister("_rows")
    return elapsed


def run(quick: bool = False) -> list[Measure]:
    days, repeats = (2, 1) if quick else (14, 3)
    sources, start, end, chunk, every = _batches(days)
    rows = sum(t.num_rows for t in every.values())
    first, rewrite, ceiling = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="kimera-bench-ingest-") as tmp:
            folder = Path(tmp)
            a, b = _real_path(folder, sources, start, end, chunk)
            first.append(a)
            rewrite.append(b)
            ceiling.append(_ceiling(folder, every))
    ceiling_rate = rows / min(ceiling)
    baseline = f"DuckDB INSERT…SELECT from Arrow, same {rows:,} rows and tables"
    measures = []
    for label, seconds in (
        (f"ingest {days} days sim, first write (chunks of {chunk.total_seconds() / 3600:g} h)", first),
        (f"ingest {days} days sim, rewrite of the same windows", rewrite),
    ):
        rate = rows / min(seconds)
        ratio = rate / ceiling_rate
        measures.append(
            Measure(label, rate, "rows/s", baseline, ceiling_rate, ratio, f"ratio >= {GOAL}", ratio >= GOAL)
        )
    return measures
