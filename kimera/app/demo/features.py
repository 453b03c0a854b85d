"""The demo's features stage: check the raw data of the demo window, then build the marts from it.

The demo's raw data is its window, so the stage rebuilds every model from scratch (the
``features_rebuild`` job): the same rows as an incremental run over the whole window, and a demo run
again after an upgrade that changed the feature columns rebuilds them instead of refusing.
"""

from __future__ import annotations

from kimera.app.demo.context import DemoContext


def features_stage(ctx: DemoContext) -> list[str]:
    """Run the ``features_rebuild`` job over ``[ctx.start, ctx.end)`` as one run; summarise the marts."""
    import duckdb

    # loads Dagster and dbt: kept off `kimera --help`
    from pipelines.features.dbt_cli import log_dir
    from pipelines.features.definitions import REBUILD_JOB

    hours = int((ctx.end - ctx.start).total_seconds() // 3600)
    outcome = ctx.run_job(REBUILD_JOB, f"raw checks and dbt build, {hours} hourly partitions")
    log = log_dir(ctx.settings.home_dir) / "dbt.log"
    with duckdb.connect(str(ctx.settings.warehouse_path), read_only=True) as con:
        assets, bars, first, last = con.execute(
            "select count(distinct asset), count(*), min(bar_time), max(bar_time) from marts.features"
        ).fetchall()[0]
        columns = con.execute(
            "select count(*) from duckdb_columns() where schema_name = 'marts' and table_name = 'features' "
            "and column_name not in ('asset', 'bar_time')"
        ).fetchall()[0][0]
        horizon = ctx.config.features.horizons[0]
        labelled = con.execute(f"select count(fwd_ret_{horizon}) from marts.labels").fetchall()[0][0]
    return [
        f"features: marts.features {bars} rows ({assets} assets, bars closing {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M}, {columns} feature columns), marts.labels {labelled} rows with a {horizon}-bar "
        f"label; raw checks passed (run {outcome.run_id[:8]}, dbt log {log})"
    ]
