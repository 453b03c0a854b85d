"""``kimera features`` when the warehouse is the lake (``KIMERA_LAKE_URL``): the same Dagster job
(raw checks, then dbt on the ``lake`` target, then the marts exported to the lake), summarised from
the lake's files rather than the local warehouse file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from kimera.app.demo.context import DemoContext
from kimera.app.steps import candle_span, hours_covering
from kimera.config import ConfigError, KimeraConfig
from kimera.settings import Settings


def lake_candle_window(settings: Settings, config: KimeraConfig) -> tuple[datetime, datetime]:
    """Whole hours covering the lake's candles of ``exchange.timeframe`` (the default window)."""
    from pipelines.lake.resource import lake_of
    from pipelines.lake.store import lake_reader

    with lake_reader(lake_of(settings)) as con:
        exists = "SELECT count(*) FROM duckdb_views() WHERE view_name = 'exchange_ohlcv'"
        first, last = candle_span(con, exists, config.exchange.timeframe)
    if first is None:
        raise ConfigError(
            f"the lake {settings.lake_url} holds no {config.exchange.timeframe} candles: "
            "`kimera ingest` first, or pass --from and --to"
        )
    return hours_covering(first, last, config.exchange.timeframe)


def lake_features(ctx: DemoContext, job: str) -> list[str]:
    """Run ``job`` (features or features_rebuild) over the window; summarise the lake's marts."""
    from pipelines.lake.resource import lake_of
    from pipelines.lake.store import attach_mart_views, lake_reader

    hours = int((ctx.end - ctx.start).total_seconds() // 3600)
    outcome = ctx.run_job(job, f"raw checks and dbt build on the lake, {hours} hourly partitions")
    lake = lake_of(ctx.settings)
    with lake_reader(lake) as con:
        attach_mart_views(lake, con)
        assets, bars, first, last = con.execute(
            "select count(distinct asset), count(*), min(bar_time), max(bar_time) from marts.features"
        ).fetchone()
        labelled = con.execute("select count(*) from marts.labels").fetchone()[0]
    return [
        f"features: marts.features {bars} rows ({assets} assets, bars closing {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M}), marts.labels {labelled} rows, in the lake {lake.path('marts')}; "
        f"raw checks passed (run {outcome.run_id[:8]})"
    ]


@contextmanager
def marts_reader(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only view of ``marts.*``: the lake's mart files with ``KIMERA_LAKE_URL`` (what training
    reads there), else the local warehouse file opened read-only."""
    if not settings.lake_url:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            yield con
        return
    from pipelines.lake.resource import lake_of
    from pipelines.lake.store import attach_mart_views, lake_reader

    lake = lake_of(settings)
    with lake_reader(lake) as con:
        attach_mart_views(lake, con)
        yield con


def ml_database(settings: Settings) -> Path:
    """The DuckDB file training writes ``ml.*`` to: with ``KIMERA_LAKE_URL`` the lake's catalog
    (``KIMERA_HOME/lake/warehouse.duckdb``, docs/scaling-out.md), else the local warehouse."""
    if not settings.lake_url:
        return settings.warehouse_path
    from pipelines.lake.flow import catalog_path

    return catalog_path(settings)
