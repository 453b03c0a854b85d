"""The dbt project as Dagster assets, partitioned hourly like the ingest assets.

One ``@dbt_assets`` definition covers every model (and its dbt tests, shown as asset checks). A run
over a partition range ``[start, end)`` runs ``dbt build`` with that window as vars, so the
incremental models rebuild only those bars (plus ``features.lookback_bars`` of late data). Runs hold
the ``duckdb`` pool: DuckDB has one writer.
"""

# No ``from __future__ import annotations``: Dagster reads the context and resource annotations.
import json
import os

from dagster import AssetExecutionContext, AssetsDefinition, BackfillPolicy, Config
from dagster_dbt import DbtCliResource, dbt_assets

from kimera.config import KimeraConfig
from kimera.settings import get_settings, prepare_home
from pipelines.features.project import dbt_executable, dbt_project, dbt_vars
from pipelines.features.translator import KimeraDbtTranslator
from pipelines.ingest.partitions import hourly_partitions, naive_window
from pipelines.resources import KimeraResource

POOL = "duckdb"


class DbtBuildConfig(Config):
    """Run config of the dbt assets (the launchpad's ``ops: features_dbt: config:``)."""

    full_refresh: bool = False
    """Rebuild every incremental model from all raw data: needed after a change of the feature columns
    (a new lag, a new window), which an incremental run refuses (``on_schema_change: fail``)."""


def build_features_assets(kimera_config: KimeraConfig) -> AssetsDefinition:
    """The dbt models of ``dbt_project/`` as assets on the ingest's hourly partitions of the config."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        name="features_dbt",
        dagster_dbt_translator=KimeraDbtTranslator(),
        partitions_def=hourly_partitions(kimera_config.start),
        backfill_policy=BackfillPolicy.single_run(),
        pool=POOL,
    )
    def features_dbt(
        context: AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource, kimera: KimeraResource
    ):
        settings = prepare_home(get_settings())
        # dbt runs in the project folder: its profile must see the warehouse by absolute path.
        os.environ["KIMERA_HOME"] = str(settings.home_dir)
        window = naive_window(context.partition_time_window) if context.has_partition_key_range else None
        build_vars = dbt_vars(kimera.config(), window)
        context.log.info(f"dbt build over raw window {window} (vars {build_vars})")
        # Unit tests pin arithmetic in CI; a production run builds models and their data tests.
        args = ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(build_vars)]
        if config.full_refresh:
            args.append("--full-refresh")
        # One artefact folder per KIMERA_HOME, reused by every run (they hold the duckdb pool, so never
        # two at once): dagster-dbt's default, a new folder per run, grows by megabytes every hour.
        artefacts = settings.home_dir / "dbt"
        args += ["--log-path", str(artefacts / "logs")]
        yield from dbt.cli(args, context=context, target_path=artefacts / "target").stream()

    return features_dbt


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
