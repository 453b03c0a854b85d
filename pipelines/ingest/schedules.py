"""Ingest jobs and the hourly schedule that ingests the latest complete hour."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from kimera.config import KimeraConfig
from kimera.schema import PARTITIONED_TABLES, REFERENCE_TABLES
from pipelines.ingest.assets import raw_key
from pipelines.ingest.partitions import hourly_partitions

INGEST_JOB = "ingest_raw"
REFERENCE_JOB = "ingest_reference"
SCHEDULE = "ingest_hourly"


def ingest_jobs(config: KimeraConfig) -> tuple[UnresolvedAssetJobDefinition, UnresolvedAssetJobDefinition]:
    """The hourly-partitioned raw tables as one job, the reference tables as another."""
    raw = define_asset_job(
        INGEST_JOB,
        selection=AssetSelection.assets(*(raw_key(t) for t in PARTITIONED_TABLES)),
        partitions_def=hourly_partitions(config.start),
        description="Ingest an hour (or, as a backfill, a range of hours) of every partitioned raw table.",
    )
    reference = define_asset_job(
        REFERENCE_JOB,
        selection=AssetSelection.assets(*(raw_key(t) for t in REFERENCE_TABLES)),
        description="Rewrite the reference tables (pools, tokens, wallet labels).",
    )
    return raw, reference


def hourly_schedule(job: UnresolvedAssetJobDefinition, config: KimeraConfig) -> ScheduleDefinition:
    """Each hour, at ``ingest.schedule_minute`` past, ingest the hour that just ended (off until turned on)."""
    return build_schedule_from_partitioned_job(
        job,
        name=SCHEDULE,
        minute_of_hour=config.ingest.schedule_minute,
        description="Ingests the latest complete hour of every partitioned raw table.",
    )
