"""The dbt project as Dagster assets, partitioned hourly like the ingest assets.

One ``@dbt_assets`` definition covers every model (and its dbt tests, shown as asset checks). A run
over a partition range ``[start, end)`` runs ``dbt build`` with that window as vars, so the
incremental models rebuild only those bars (plus ``features.lookback_bars`` of late data). Runs hold
the ``duckdb`` pool: DuckDB has one writer.

dbt runs in the step's process (:mod:`pipelines.features.dbt_cli`), not as a CLI subprocess the way
``DbtCliResource`` runs it: no 2-3 s of dbt start-up and ``dbt --version`` per run, no re-parse for a
new window, and no dbt log lines on stdout (they go to ``KIMERA_HOME/dbt/logs/dbt.log``). dbt's
results become the same Dagster events as with dagster-dbt's CLI resource: its own event translation
and subset selection are reused.
"""

# No ``from __future__ import annotations``: Dagster reads the context and resource annotations.
from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    Failure,
    MetadataValue,
    Output,
)
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource

from kimera.config import KimeraConfig
from kimera.settings import get_settings, prepare_home
from pipelines.features.dbt_cli import DbtRun, log_dir, run_dbt
from pipelines.features.families import family_presence, prepare_raw_tables, presence_markdown
from pipelines.features.project import dbt_executable, dbt_project, dbt_vars
from pipelines.features.translator import KimeraDbtTranslator
from pipelines.ingest.partitions import hourly_partitions, naive_window
from pipelines.lake.store import export_marts
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
        context: AssetExecutionContext,
        config: DbtBuildConfig,
        kimera: KimeraResource,
        warehouse: DuckDBResource,
    ):
        settings = prepare_home(get_settings())
        window = naive_window(context.partition_time_window) if context.has_partition_key_range else None
        with warehouse.get_connection() as con:  # closed before dbt opens the file
            created = prepare_raw_tables(con)
            presence = family_presence(con)
        if created:
            context.log.info(
                f"created empty from the raw-table contract (no such source): {', '.join(created)}"
            )
        for family in presence:
            context.log.info(f"feature family {family.describe()}")
        build_vars = dbt_vars(kimera.config(), window)
        # Unit tests pin arithmetic in CI; a production run builds models and their data tests.
        args = ["build", "--exclude-resource-type", "unit_test", *_selection(context)]
        if config.full_refresh:
            args.append("--full-refresh")
        lake = _lake(warehouse)
        if lake is not None:  # KIMERA_LAKE_URL: raw.* are views over the lake (docs/scaling-out.md)
            args += ["--target", "lake"]
        context.log.info(f"dbt {' '.join(args)} over raw window {window} (vars {build_vars})")
        run = run_dbt(args, home=settings.home_dir, dbt_vars=build_vars, check=False)
        yield from _with_families(context, _dagster_events(context, run), presence)
        context.log.info(_summary(run))
        if not run.success:
            raise Failure(
                description=f"dbt build failed: {_failures(run)}",
                metadata={"dbt log": MetadataValue.path(str(log_dir(settings.home_dir) / "dbt.log"))},
            )
        if lake is not None:
            with warehouse.get_connection() as con:
                files = export_marts(lake, con)
            context.log.info(f"marts written to the lake: {files} files under {lake.path('marts')}")

    return features_dbt


def _lake(warehouse: DuckDBResource) -> Any:
    """The lake when the warehouse resource is the lake's (``KIMERA_LAKE_URL``), else None."""
    from pipelines.lake.resource import LakeWarehouseResource

    return warehouse.lake() if isinstance(warehouse, LakeWarehouseResource) else None


def _selection(context: AssetExecutionContext) -> list[str]:
    """dbt selection arguments for the assets and checks this step was asked for (all of them, or the
    subset picked in the UI), exactly as dagster-dbt's CLI resource selects them."""
    from dagster_dbt.asset_utils import (
        DAGSTER_DBT_EXCLUDE_METADATA_KEY,
        DAGSTER_DBT_SELECT_METADATA_KEY,
        DAGSTER_DBT_SELECTOR_METADATA_KEY,
        get_manifest_and_translator_from_dbt_assets,
        get_subset_selection_for_context,
    )

    manifest, translator, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    args, indirect = get_subset_selection_for_context(
        context=context,
        manifest=manifest,
        select=context.op.tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=context.op.tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY),
        selector=context.op.tags.get(DAGSTER_DBT_SELECTOR_METADATA_KEY),
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=None,
    )
    return [*args, "--indirect-selection", indirect] if indirect else list(args)


def _dagster_events(context: AssetExecutionContext, run: DbtRun) -> Iterator[Any]:
    """Outputs for the models dbt built, check results for its tests (dagster-dbt's translation)."""
    from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    manifest, translator, project = get_manifest_and_translator_from_dbt_assets([context.assets_def])
    for raw_event in run.results:
        event = DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={})
        yield from event.to_default_asset_events(
            manifest=manifest, dagster_dbt_translator=translator, context=context, project=project
        )


def _with_families(context: AssetExecutionContext, events: Iterator[Any], presence: list) -> Iterator[Any]:
    """``marts/features``' output carries which feature families were built and which are NULL."""
    features_key = AssetKey(["marts", "features"])
    if features_key not in context.assets_def.keys:
        yield from events
        return
    name = context.assets_def.get_output_name_for_asset_key(features_key)
    metadata = {
        "feature_families": MetadataValue.md(presence_markdown(presence)),
        "families_built": [p.family.name for p in presence if p.present],
        "families_null": [p.family.name for p in presence if not p.present],
    }
    for event in events:
        if isinstance(event, Output) and event.output_name == name:
            event = event.with_metadata({**event.metadata, **metadata})
        yield event


def _summary(run: DbtRun) -> str:
    counts: dict[str, int] = {}
    for status in run.statuses().values():
        counts[status] = counts.get(status, 0) + 1
    done = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return (
        f"dbt finished in {run.wall_s:.1f} s (parse {run.parse_s:.1f} s, nodes {run.elapsed_s:.1f} s): {done}"
    )


def _failures(run: DbtRun) -> str:
    failed = [uid for uid, status in run.statuses().items() if status in {"error", "fail"}]
    if failed:
        return ", ".join(failed)
    errors = [line for line in run.output.splitlines() if "error" in line.lower()]
    return "; ".join(errors[-5:]) or "see the dbt log"


def dbt_resource() -> DbtCliResource:
    """dbt's CLI resource on the project, for users' own ops (``dbt.cli([...]).wait()``)."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
