"""The ingest assets' writes when the warehouse is the lake: each hour of a window becomes its
partition file (:func:`pipelines.lake.store.write_window`), each reference table its one file.

A window is fetched and written chunk by chunk like the local ingest; an hour's file holds every
chain of ``chains:`` (exchange tables: the one read), so a rewrite replaces exactly that hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from kimera.config import KimeraConfig
from pipelines.ingest.chains import chain_configs, feed_sources, per_chain
from pipelines.ingest.feeds import Feed, ReferenceFeed
from pipelines.ingest.write import IngestReport, OnChunk, split_window
from pipelines.lake.store import Lake, write_reference, write_window
from pipelines.sources import Sources


def ingest_feed_to_lake(
    lake: Lake,
    feed: Feed,
    sources: Sources,
    start: datetime,
    end: datetime,
    chunk: timedelta = timedelta(hours=24),
    on_chunk: OnChunk | None = None,
) -> IngestReport:
    """Fetch ``feed`` over ``[start, end)`` from every chain's sources and replace the window's
    hourly files in the lake, a chunk at a time; the report counts rows and files (as chunks)."""
    each = feed_sources(feed, sources)
    report = IngestReport(feed.table, start, end, {})
    pieces = list(split_window(start, end, chunk))
    for done, (chunk_start, chunk_end) in enumerate(pieces, 1):
        rows = pa.concat_tables([feed.fetch(s, chunk_start, chunk_end) for s in each])
        report.chunks += write_window(lake, feed.table, chunk_start, chunk_end, rows)
        report.rows_written += rows.num_rows
        if on_chunk:
            on_chunk(chunk_start, chunk_end, rows.num_rows, done, len(pieces))
    report.table_rows = report.rows_written
    return report


def ingest_reference_to_lake_file(
    lake: Lake, feed: ReferenceFeed, config: KimeraConfig, sources: Sources
) -> IngestReport:
    """Rewrite a reference table's file with every chain's rows (each with that chain's config)."""
    each = per_chain(sources)
    configs = chain_configs(config, each)
    rows = pa.concat_tables(
        [
            feed.rows(c, s).select(feed.table.columns).cast(feed.table.schema)
            for c, s in zip(configs, each, strict=True)
        ]
    )
    write_reference(lake, feed.table, rows)
    report = IngestReport(feed.table, None, None, {}, rows_written=rows.num_rows, chunks=1)
    report.table_rows = rows.num_rows
    return report
