"""The simulator's raw tables into the lake, and the dbt marts built from the lake into it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from connect.sim import simulator_from_config
from kimera.config import KimeraConfig
from kimera.schema import RAW_TABLES
from kimera.settings import Settings
from pipelines.ingest.chains import feed_sources
from pipelines.ingest.feeds import FEEDS
from pipelines.lake.store import Lake, attach_raw_views, export_marts, write_reference, write_window
from pipelines.sources import make_sources
from pipelines.warehouse import ensure_raw_schema


def ingest_window_to_lake(lake: Lake, config: KimeraConfig, start: datetime, end: datetime) -> int:
    """Write every partitioned raw table for ``[start, end)`` from the config's sources (every chain
    of ``chains:``), a file per hour; returns the files written. Running it again over the same window rewrites the same files."""
    sources = make_sources(config)
    written = 0
    for feed in FEEDS.values():
        # an hour's file holds every chain of ``chains:`` (exchange tables: the one read)
        each = feed_sources(feed, sources)
        rows = pa.concat_tables([feed.fetch(s, start, end) for s in each])
        written += write_window(lake, feed.table, start, end, rows)
    return written


def ingest_reference_to_lake(lake: Lake, config: KimeraConfig) -> None:
    """Write the simulated chains' reference tables (pools, tokens, wallet labels), every chain of
    ``chains:`` in one file per table, as the local warehouse holds them."""
    per_chain = [simulator_from_config(view).reference_tables() for view in config.chain_views()]
    for name in per_chain[0]:
        write_reference(lake, RAW_TABLES[name], pa.concat_tables([tables[name] for tables in per_chain]))


def catalog_path(settings: Settings) -> Path:
    """The small DuckDB file of dbt's ``lake`` target: views over the lake, and dbt's own models
    (``lake/warehouse.duckdb``: dbt's sources name their database ``warehouse``)."""
    return settings.home_dir / "lake" / "warehouse.duckdb"


def build_marts_on_lake(
    settings: Settings, lake: Lake, config: KimeraConfig, window: tuple[datetime, datetime] | None = None
) -> int:
    """``dbt build`` on the ``lake`` target (raw tables read from the lake), then the marts written
    back to the lake, a file per asset; returns the mart files written."""
    from pipelines.features.dbt_cli import run_dbt
    from pipelines.features.project import dbt_vars

    catalog = catalog_path(settings)
    catalog.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog)) as con:
        ensure_raw_schema(con)  # the live-only tables dbt also reads, empty
        attach_raw_views(lake, con)
    args = ["build", "--target", "lake", "--exclude-resource-type", "unit_test"]
    run_dbt(
        args if window else [*args, "--full-refresh"],
        home=settings.home_dir,
        dbt_vars=dbt_vars(config, window),
        settings=settings,
    )
    with duckdb.connect(str(catalog)) as con:
        return export_marts(lake, con)
