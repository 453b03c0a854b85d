"""The demo's ingest stage: reference tables, then every partitioned raw table over the demo window."""

from __future__ import annotations

from kimera.app.demo.context import DemoContext
from kimera.schema import PARTITIONED_TABLES


def ingest_stage(ctx: DemoContext) -> list[str]:
    """Materialise the ingest assets for ``[ctx.start, ctx.end)`` as one run (plus one for reference tables)."""
    from pipelines.ingest.schedules import (  # loads Dagster: kept off `kimera --help`
        INGEST_JOB,
        REFERENCE_JOB,
    )

    reference = ctx.run_job(REFERENCE_JOB, "reference tables", partitioned=False)
    hours = int((ctx.end - ctx.start).total_seconds() // 3600)
    raw = ctx.run_job(INGEST_JOB, f"raw tables, {hours} hourly partitions")
    sources = (
        f"exchange={ctx.config.exchange.source}, chain={ctx.config.chain.source}, dex={ctx.config.dex.source}"
    )
    return [
        f"ingest: {hours} hourly partitions of {len(PARTITIONED_TABLES)} raw tables from {sources} (run {raw.run_id[:8]}), "
        f"reference tables (run {reference.run_id[:8]})"
    ]
