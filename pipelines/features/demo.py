"""The demo's features stage: check the raw data of the demo window, then dbt build the marts over it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.features.definitions import FEATURES_JOB

if TYPE_CHECKING:
    from kimera.demo import DemoContext


@contextlib.contextmanager
def _dbt_lines_to(path: Path, console: Any) -> Iterator[None]:
    """dagster-dbt echoes every dbt log line to stdout (Dagster's compute log); in the demo they go to
    ``path`` and the progress bars keep the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    console.file = getattr(sys.stdout, "rich_proxied_file", sys.stdout)  # the terminal under rich's proxy
    try:
        with path.open("a") as log, contextlib.redirect_stdout(log):
            yield
    finally:
        console.file = None  # back to following sys.stdout


def features_stage(ctx: DemoContext) -> list[str]:
    """Run the ``features`` job over ``[ctx.start, ctx.end)`` as one run; summarise the marts."""
    hours = int((ctx.end - ctx.start).total_seconds() // 3600)
    log = ctx.settings.home_dir / "dbt" / "logs" / "demo.log"
    with _dbt_lines_to(log, ctx.progress.console):
        outcome = ctx.run_job(FEATURES_JOB, f"raw checks and dbt build, {hours} hourly partitions")
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
