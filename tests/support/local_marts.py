"""A local warehouse built by dbt from scratch: the reference the lake's tests compare with."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from kimera.config import load_config
from kimera.settings import Settings
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars
from pipelines.features.sim_data import load_sim_reference, load_sim_window


def build_local_marts(home: Path, config_path: Path, start: datetime, end: datetime) -> Settings:
    """The simulator's reference rows and raw rows of ``[start, end)`` in a new warehouse under
    ``home``, and every dbt model built on them (``build --full-refresh``, unit tests left out)."""
    config = load_config(config_path)
    local = Settings(home=home, config=config_path)
    local.home_dir.mkdir(parents=True)
    with duckdb.connect(str(local.warehouse_path)) as con:
        load_sim_reference(con, config)
        load_sim_window(con, config, start, end)
    run_dbt(["build", "--full-refresh", "--exclude-resource-type", "unit_test"], home=local.home_dir,
            dbt_vars=dbt_vars(config), settings=local)  # fmt: skip
    return local
