"""The job that loads landed micro-batches into DuckDB (requested by the landing sensor).

No `from __future__ import annotations` here: Dagster reads the op's config class from its annotation.
"""

from dagster import Config, MetadataValue, OpExecutionContext, Output, job, op
from dagster_duckdb import DuckDBResource

from kimera.settings import get_settings
from pipelines.landing.load import load_pending


class LoadLandedConfig(Config):
    up_to: str | None = None  # newest file (ULID) this run loads; later arrivals wait for the next run


@op(pool="duckdb", tags={"kind": "duckdb"})
def load_landed_files(
    context: OpExecutionContext, config: LoadLandedConfig, warehouse: DuckDBResource
) -> Output[None]:
    """Load every complete landed file (each exactly once, by the ledger raw.landed_files; on the
    lake, each becomes one lake object named after it: pipelines.lake.landing)."""
    from pipelines.lake.resource import LakeWarehouseResource

    if isinstance(warehouse, LakeWarehouseResource):  # KIMERA_LAKE_URL (docs/scaling-out.md)
        from pipelines.lake.landing import load_pending_to_lake

        report = load_pending_to_lake(warehouse.lake(), get_settings().landing_dir, up_to=config.up_to)
    else:
        with warehouse.get_connection() as con:
            report = load_pending(con, get_settings().landing_dir, up_to=config.up_to)
    context.log.info(str(report))
    metadata = {f"rows_{table}": MetadataValue.int(n) for table, n in report.rows.items()}
    return Output(None, metadata={"files": report.files, "already_loaded": report.skipped, **metadata})


@job(description="Load Parquet micro-batches landed by `kimera stream` into the raw tables.")
def load_landed_job() -> None:
    load_landed_files()
