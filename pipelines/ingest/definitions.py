"""The ingest domain's definitions: assets, jobs and the hourly schedule (resources are bound above)."""

from __future__ import annotations

from dagster import Definitions

from kimera.config import KimeraConfig
from pipelines.ingest.assets import build_ingest_assets
from pipelines.ingest.schedules import hourly_schedule, ingest_jobs
from pipelines.resources import location_config


def build_defs(config: KimeraConfig) -> Definitions:
    raw_job, reference_job = ingest_jobs(config)
    return Definitions(
        assets=build_ingest_assets(config),
        jobs=[raw_job, reference_job],
        schedules=[hourly_schedule(raw_job, config)],
    )


defs = build_defs(location_config())
