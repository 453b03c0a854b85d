"""The ingest logic, as plain functions: fetch a window from a source and overwrite it in the warehouse.

The Dagster assets are thin shells over these; tests call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

from kimera.config import KimeraConfig
from kimera.schema import RawTable
from pipelines.ingest.feeds import Feed, ReferenceFeed, Scope
from pipelines.sources import Sources
from pipelines.sources.bookkeeping import after_window, before_window
from pipelines.warehouse import ensure_raw_schema, replace_reference, replace_window, scope_sql

# Called after each chunk is committed: (chunk start, chunk end, rows written, chunks done, chunks in all).
OnChunk = Callable[[datetime, datetime, int, int, int], None]


@dataclass
class IngestReport:
    """What one ingest wrote: the table, the window, the scope replaced and the rows."""

    table: RawTable
    start: datetime | None
    end: datetime | None
    scope: Scope
    rows_written: int = 0
    chunks: int = 0
    table_rows: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)
    healed: Any = None  # pipelines.sources.reorg.Healed when a reorg was found and repaired

    def summary(self) -> str:
        window = f" [{self.start}, {self.end})" if self.start else ""
        return f"{self.table.qualified}{window}: {self.rows_written} rows in {self.chunks} transaction(s)"


def split_window(start: datetime, end: datetime, chunk: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive half-open windows of at most ``chunk`` that cover ``[start, end)`` exactly."""
    if chunk <= timedelta(0):
        raise ValueError(f"chunk must be positive, got {chunk}")
    if not start < end:
        raise ValueError(f"window start {start} must be before its end {end}")
    cursor = start
    while cursor < end:
        stop = min(cursor + chunk, end)
        yield cursor, stop
        cursor = stop


def ingest_window(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    sources: Sources,
    start: datetime,
    end: datetime,
    chunk: timedelta = timedelta(hours=24),
    on_chunk: OnChunk | None = None,
    preview_rows: int = 5,
) -> IngestReport:
    """Overwrite ``[start, end)`` of the feed's table with what its source returns for it.

    The window is fetched and written in chunks of ``chunk`` (aligned to ``start``, so to whole
    partitions), each in its own transaction: a failure leaves every chunk either as it was or
    wholly rewritten, never half. Only the source's scope (its venues, chain or pools) is replaced.
    """
    scope = feed.scope(sources)
    report = IngestReport(feed.table, start, end, scope)
    windows = list(split_window(start, end, chunk))
    ensure_raw_schema(con, [feed.table])
    source = getattr(sources, feed.family)
    report.healed = before_window(con, feed.table, source)  # a reorg in what is stored (RPC sources)
    for done, (chunk_start, chunk_end) in enumerate(windows, start=1):
        rows = feed.fetch(sources, chunk_start, chunk_end)
        written = replace_window(
            con, feed.table, chunk_start, chunk_end, rows, scope=scope, ensure_table=False
        )
        after_window(con, feed.table, source, chunk_start, chunk_end)  # block coverage, exchange gaps
        report.rows_written += written
        report.chunks = done
        if on_chunk is not None:
            on_chunk(chunk_start, chunk_end, written, done, len(windows))
    _describe(con, report, preview_rows)
    return report


def ingest_reference(
    con: duckdb.DuckDBPyConnection,
    feed: ReferenceFeed,
    config: KimeraConfig,
    sources: Sources,
    preview_rows: int = 5,
) -> IngestReport:
    """Rewrite a reference table for the source's chain, atomically."""
    scope: Scope = {"chain": [sources.chain.chain()]}
    report = IngestReport(feed.table, None, None, scope)
    report.rows_written = replace_reference(con, feed.table, feed.rows(config, sources), scope=scope)
    report.chunks = 1
    _describe(con, report, preview_rows)
    return report


def _describe(con: duckdb.DuckDBPyConnection, report: IngestReport, preview_rows: int) -> None:
    """Fill the report's table count and a preview of the rows just written (for asset metadata)."""
    table = report.table
    ((report.table_rows,),) = con.execute(f"SELECT count(*) FROM {table.qualified}").fetchall()
    in_scope, params = scope_sql(report.scope)
    where, order = "TRUE", ", ".join(f'"{k}"' for k in table.key)
    if report.start is not None:
        where = f'"{table.time_column}" >= ? AND "{table.time_column}" < ?'
        params = [report.start, report.end, *params]
        order = f'"{table.time_column}", {order}'
    cursor = con.execute(
        f"SELECT * FROM {table.qualified} WHERE {where}{in_scope} ORDER BY {order} LIMIT {int(preview_rows)}",
        params,
    )
    columns = [d[0] for d in cursor.description]
    report.preview = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def preview_markdown(rows: list[dict[str, Any]]) -> str:
    """A few rows as a Markdown table (how the Dagster UI shows a materialisation's preview)."""
    if not rows:
        return "_no rows_"
    columns = list(rows[0])

    def cell(value: Any) -> str:
        text = (
            "NULL"
            if value is None
            else value.isoformat(sep=" ")
            if isinstance(value, datetime)
            else str(value)
        )
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def scope_text(scope: Scope) -> str:
    return json.dumps(scope, default=str)
