"""The features domain's definitions: dbt assets, blocking raw checks, the features jobs."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from kimera.config import KimeraConfig
from pipelines.features.assets import build_features_assets, dbt_resource
from pipelines.features.checks import build_raw_checks
from pipelines.ingest.partitions import hourly_partitions
from pipelines.resources import location_config

FEATURES_JOB = "features"
REBUILD_JOB = "features_rebuild"


def build_defs(config: KimeraConfig) -> Definitions:
    features = build_features_assets(config)
    checks = build_raw_checks(config)
    # the raw tables' checks first (blocking), then every dbt model and its tests
    selection = AssetSelection.checks(*checks) | AssetSelection.assets(features)
    job = define_asset_job(
        FEATURES_JOB,
        selection=selection,
        partitions_def=hourly_partitions(config.start),
        description="Check the raw data of a partition range, then dbt build the features and labels over it.",
    )
    rebuild = define_asset_job(
        REBUILD_JOB,
        selection=selection,
        partitions_def=hourly_partitions(config.start),
        config={"ops": {"features_dbt": {"config": {"full_refresh": True}}}},
        description=(
            "Check the raw data of a partition range, then rebuild every model from all raw data "
            "(dbt --full-refresh): after a change of the feature columns, or to build from scratch."
        ),
    )
    return Definitions(
        assets=[features], asset_checks=checks, jobs=[job, rebuild], resources={"dbt": dbt_resource()}
    )


defs = build_defs(location_config())
