"""The warehouse resource when ``KIMERA_LAKE_URL`` is set: the seam that puts the product's own
commands (``kimera ingest``, ``kimera features``, the Dagster assets) on the lake.

``pipelines.resources.shared_resources`` binds this resource as ``warehouse`` instead of the local
DuckDB file. Its connection is the lake's catalog (``KIMERA_HOME/lake/warehouse.duckdb``: dbt's
``lake`` target) with ``raw.<table>`` as views over the lake's Parquet files, so every asset that
reads the warehouse (raw checks, dbt's feature-family probe, training's marts) reads the lake. The
ingest assets write the lake's partition files instead (:mod:`pipelines.lake.ingest`), and the dbt
assets build on the ``lake`` target and export the marts to the lake afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from kimera.schema import RAW_TABLES
from kimera.settings import Settings
from pipelines.lake.flow import catalog_path
from pipelines.lake.store import Lake, attach_mart_views, attach_raw_views, lake_reader, open_lake
from pipelines.resources import WarehouseResource
from pipelines.warehouse import ensure_raw_schema

DBT_TARGET = "lake"


def lake_of(settings: Settings) -> Lake | None:
    """The lake the settings name (``KIMERA_LAKE_URL``, ``KIMERA_LAKE_ENDPOINT_URL``), or None."""
    if not settings.lake_url:
        return None
    return open_lake(settings.lake_url, settings.lake_endpoint_url)


class LakeWarehouseResource(WarehouseResource):
    """``database`` is the lake's catalog; ``lake_url``/``lake_endpoint_url`` the lake itself."""

    lake_url: str
    lake_endpoint_url: str | None = None

    def lake(self) -> Lake:
        return open_lake(self.lake_url, self.lake_endpoint_url)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The catalog, with ``raw.*`` (re)attached as views over the lake's files as they are now
        (a raw table the lake has no file of yet stays an empty local table)."""
        with super().get_connection() as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            views = {
                n
                for (n,) in con.execute(
                    "SELECT view_name FROM duckdb_views() WHERE schema_name = 'raw'"
                ).fetchall()
            }
            ensure_raw_schema(con, [t for t in RAW_TABLES.values() if t.name not in views])
            attach_raw_views(self.lake(), con)
            yield con

    @contextmanager
    def marts_reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """An in-memory connection with ``marts.*`` (and ``raw.*``) as views over the lake's files:
        what training reads, on any machine, with no lock on the catalog. Fails, saying what to run,
        when the lake holds no marts yet."""
        lake = self.lake()
        with lake_reader(lake) as con:
            missing = {"features", "labels"} - set(attach_mart_views(lake, con))
            if missing:
                raise FileNotFoundError(
                    f"the lake {lake.root} holds no marts.{' or marts.'.join(sorted(missing))} files "
                    f"under {lake.path('marts')}: run `kimera features` first"
                )
            yield con


def lake_warehouse(settings: Settings) -> LakeWarehouseResource:
    """The warehouse resource on the settings' lake (its catalog under ``KIMERA_HOME/lake``)."""
    lake_of(settings)  # a bad URL fails here, naming it, not in the first step
    return LakeWarehouseResource(
        database=str(catalog_path(settings)),
        lake_url=settings.lake_url,
        lake_endpoint_url=settings.lake_endpoint_url,
    )
