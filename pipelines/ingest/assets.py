"""The ingest assets: ``raw/<table>`` for each raw table, thin shells over :mod:`pipelines.ingest.write`.

Partitioned tables are hourly from the config's ``start``; a ranged backfill is one run
(``BackfillPolicy.single_run``) that writes its window chunk by chunk. Every asset writes DuckDB, so
every one holds the ``duckdb`` concurrency pool. Refused rows fail at once; anything else (a source
timing out, the warehouse locked) is retried with exponential backoff.
"""

# No ``from __future__ import annotations``: Dagster reads the context and resource annotations.
import warnings
from datetime import timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    BetaWarning,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
    asset,
)
from dagster_duckdb import DuckDBResource

from kimera.config import IngestConfig, KimeraConfig
from kimera.schema import RawTable, duckdb_type
from pipelines.ingest.chains import ingest_each_chain, ingest_reference_each_chain
from pipelines.ingest.feeds import FEEDS, REFERENCE_FEEDS, Feed, ReferenceFeed
from pipelines.ingest.partitions import hourly_partitions, naive_window
from pipelines.ingest.write import IngestReport, preview_markdown, scope_text
from pipelines.lake.ingest import ingest_feed_to_lake, ingest_reference_to_lake_file
from pipelines.progress import progress_message
from pipelines.resources import KimeraResource
from pipelines.sources import Sources
from pipelines.sources.retry import SourceUnavailable
from pipelines.warehouse import RowsRefused

GROUP = "ingest"
POOL = "duckdb"


def raw_key(table: RawTable) -> AssetKey:
    """The asset key of a raw table, ``raw/<table>``, as dbt sources and other domains refer to it."""
    return AssetKey(["raw", table.name])


def retry_policy(ingest: IngestConfig) -> RetryPolicy:
    return RetryPolicy(
        max_retries=ingest.max_retries,
        delay=ingest.retry_delay_s,
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


def _definition_metadata(table: RawTable) -> dict[str, Any]:
    columns = [
        TableColumn(
            name=f.name,
            type=duckdb_type(f.type),
            description=(f.metadata or {}).get(b"doc", b"").decode() or None,
            constraints=TableColumnConstraints(nullable=f.nullable),
        )
        for f in table.schema
    ]
    return {
        "dagster/table_name": table.qualified,
        "dagster/column_schema": TableSchema(columns=columns),
        "natural_key": ", ".join(table.key),
    }


def _materialisation_metadata(report: IngestReport, source: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "source": source,
        "scope": scope_text(report.scope),
        "rows_written": report.rows_written,
        "transactions": report.chunks,
        "dagster/row_count": report.table_rows,
        "preview": MetadataValue.md(preview_markdown(report.preview)),
    }
    if report.start is not None:
        metadata["window_start"] = report.start.isoformat()
        metadata["window_end"] = report.end.isoformat()
        if report.end - report.start == timedelta(hours=1):
            metadata["dagster/partition_row_count"] = report.rows_written
    if report.healed is not None:  # a reorg found in stored chain rows and re-read (pipelines.sources.reorg)
        metadata["reorg_healed"] = str(report.healed)
    return metadata


def _refused(exc: RowsRefused) -> Failure:
    # The same source call would return the same rows: fail now rather than retry.
    return Failure(description=f"nothing written: {exc}", allow_retries=False)


def _unavailable(exc: SourceUnavailable) -> Failure:
    # The source already retried with backoff (its retry settings): fail naming the cause.
    return Failure(description=f"nothing written: {exc}", allow_retries=False)


def _config_and_sources(kimera: KimeraResource) -> tuple[KimeraConfig, Sources]:
    """The run's config and sources; a config or adapter that cannot load fails at once, unretried."""
    try:
        return kimera.config(), kimera.sources()
    except Exception as exc:
        raise Failure(
            description=f"cannot make the sources the config asks for: {type(exc).__name__}: {exc}",
            allow_retries=False,
        ) from exc


def _lake(warehouse: DuckDBResource) -> Any:
    """The lake when the warehouse resource is the lake's (``KIMERA_LAKE_URL``), else None."""
    from pipelines.lake.resource import LakeWarehouseResource

    return warehouse.lake() if isinstance(warehouse, LakeWarehouseResource) else None


def _partitioned_asset(feed: Feed, config: KimeraConfig) -> AssetsDefinition:
    table = feed.table

    @asset(
        key=raw_key(table),
        group_name=GROUP,
        description=f"{table.doc} Hourly partitions of `{table.time_column}`, overwritten whole.",
        partitions_def=hourly_partitions(config.start),
        backfill_policy=BackfillPolicy.single_run(),
        retry_policy=retry_policy(config.ingest),
        pool=POOL,
        kinds={"duckdb"},
        metadata=_definition_metadata(table),
    )
    def _ingest(
        context: AssetExecutionContext, warehouse: DuckDBResource, kimera: KimeraResource
    ) -> MaterializeResult:
        start, end = naive_window(context.partition_time_window)
        run_config, sources = _config_and_sources(kimera)

        def log_chunk(chunk_start, chunk_end, rows, done, total) -> None:
            window = f"{rows} rows in [{chunk_start.isoformat()}, {chunk_end.isoformat()})"
            context.log.info(progress_message(table.qualified, done, total, window))

        chunk = timedelta(hours=run_config.ingest.chunk_hours)
        lake = _lake(warehouse)
        try:
            if lake is not None:  # KIMERA_LAKE_URL: one Parquet file per hour (pipelines.lake)
                report = ingest_feed_to_lake(lake, feed, sources, start, end, chunk=chunk, on_chunk=log_chunk)
            else:
                with warehouse.get_connection() as con:
                    report = ingest_each_chain(
                        con, feed, sources, start, end, chunk=chunk, on_chunk=log_chunk
                    )
        except RowsRefused as exc:
            raise _refused(exc) from exc
        except SourceUnavailable as exc:
            raise _unavailable(exc) from exc
        source = getattr(run_config, feed.family).source
        return MaterializeResult(metadata=_materialisation_metadata(report, source))

    return _ingest


def _reference_asset(feed: ReferenceFeed, config: KimeraConfig) -> AssetsDefinition:
    table = feed.table

    @asset(
        key=raw_key(table),
        group_name=GROUP,
        description=f"{table.doc} Rewritten whole for the configured chain.",
        retry_policy=retry_policy(config.ingest),
        pool=POOL,
        kinds={"duckdb"},
        metadata=_definition_metadata(table),
    )
    def _ingest(
        context: AssetExecutionContext, warehouse: DuckDBResource, kimera: KimeraResource
    ) -> MaterializeResult:
        run_config, sources = _config_and_sources(kimera)
        lake = _lake(warehouse)
        try:
            if lake is not None:
                report = ingest_reference_to_lake_file(lake, feed, run_config, sources)
            else:
                with warehouse.get_connection() as con:
                    report = ingest_reference_each_chain(con, feed, run_config, sources)
        except RowsRefused as exc:
            raise _refused(exc) from exc
        context.log.info(report.summary())
        source = "config" if feed.origin == "config" else getattr(run_config, feed.origin).source
        return MaterializeResult(metadata=_materialisation_metadata(report, source))

    return _ingest


def build_ingest_assets(config: KimeraConfig) -> list[AssetsDefinition]:
    """One asset per raw table: the partitioned ones first, then the reference tables."""
    with warnings.catch_warnings():
        # `backfill_policy` is marked beta in Dagster 1.13; a warning on every load helps no user.
        warnings.simplefilter("ignore", BetaWarning)
        return [_partitioned_asset(f, config) for f in FEEDS.values()] + [
            _reference_asset(f, config) for f in REFERENCE_FEEDS.values()
        ]
