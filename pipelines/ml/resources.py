"""The warehouse resource of the ML assets: DuckDB at ``KIMERA_HOME/warehouse.duckdb``."""

from __future__ import annotations

from dagster_duckdb import DuckDBResource

from kimera.settings import get_settings


def warehouse() -> DuckDBResource:
    return DuckDBResource(database=str(get_settings().warehouse_path))
