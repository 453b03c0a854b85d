"""Blocking data-quality checks on the raw tables (Great Expectations), beside the ingest assets.

Each raw table gets ``quality``, a blocking check: when it fails (a negative price, a duplicated
key, a timestamp out of order, ...) nothing downstream of that table is built in the same run, and
the automation does not rebuild the features from it; its metadata lists the offending rows. The
time-partitioned tables also get ``gaps``, a warning that never blocks: a venue, symbol or chain
silent for longer than ``features.max_gap_minutes``. A check validates the rows of its run's
partition range (reference tables: all rows).
"""

# No ``from __future__ import annotations``: Dagster reads the context and resource annotations.
from datetime import timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    MetadataValue,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from kimera.config import KimeraConfig
from kimera.schema import PARTITIONED_TABLES, RAW_TABLES, RawTable
from pipelines.features.expectations import SuiteResult
from pipelines.ingest.assets import POOL, raw_key
from pipelines.ingest.partitions import naive_window
from pipelines.resources import KimeraResource


def _window(context: AssetCheckExecutionContext, table: RawTable):
    if table.partitioned and context.has_partition_key_range:
        return naive_window(context.partition_time_window)
    return None


def _result(outcome: SuiteResult, severity: AssetCheckSeverity) -> AssetCheckResult:
    metadata = {
        "rows_checked": outcome.row_count,
        "expectations": outcome.evaluated,
        "failed_expectations": len(outcome.failures),
        "offending_rows": MetadataValue.md(outcome.markdown()),
    }
    if outcome.window is not None:
        metadata["window_start"] = outcome.window[0].isoformat()
        metadata["window_end"] = outcome.window[1].isoformat()
    return AssetCheckResult(
        passed=outcome.passed, severity=severity, description=outcome.summary(), metadata=metadata
    )


def _quality_check(table: RawTable, config: KimeraConfig) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_key(table),
        name="quality",
        blocking=True,
        # it opens the warehouse file like a writer does: with runs in several processes (a
        # queued instance) an unpooled check would hold the file while another run's step writes
        pool=POOL,
        description=(
            f"Great Expectations suite on raw.{table.name}: natural key {table.key} unique, prices positive "
            "and finite, volumes non-negative, timestamps inside the partition and ordered. Blocking."
        ),
    )
    def quality(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
        from pipelines.features.expectations import validate_raw

        with warehouse.get_connection() as con:
            outcome = validate_raw(con, table.name, _window(context, table))
        context.log.info(outcome.summary())
        return _result(outcome, AssetCheckSeverity.ERROR)

    return quality


def _gaps_check(table: RawTable, config: KimeraConfig) -> AssetChecksDefinition:
    @asset_check(
        asset=raw_key(table),
        name="gaps",
        blocking=False,
        pool=POOL,
        description=f"Warns when a series of raw.{table.name} is silent for longer than features.max_gap_minutes.",
    )
    def gaps(
        context: AssetCheckExecutionContext, warehouse: DuckDBResource, kimera: KimeraResource
    ) -> AssetCheckResult:
        from pipelines.features.expectations import report_gaps

        window = _window(context, table)
        if window is None:
            return AssetCheckResult(passed=True, description="no partition range: nothing to scan for gaps")
        config = kimera.config()
        max_gap = timedelta(minutes=config.features.max_gap_minutes)
        sessions = config.sessions  # weekends and holidays are closed, not silent
        with warehouse.get_connection() as con:
            outcome = report_gaps(con, table.name, window, max_gap, sessions)
        return _result(outcome, AssetCheckSeverity.WARN)

    return gaps


def build_raw_checks(config: KimeraConfig) -> list[AssetChecksDefinition]:
    """``quality`` on every raw table and ``gaps`` on those whose rules look for gaps."""
    from pipelines.features.expectations import RULES

    checks = [_quality_check(table, config) for table in RAW_TABLES.values()]
    checks += [_gaps_check(t, config) for t in PARTITIONED_TABLES if RULES[t.name].gaps]
    return checks
