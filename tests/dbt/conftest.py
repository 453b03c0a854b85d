"""Warehouses for the dbt tests: simulated raw data, and one full build shared by the read-only tests.

Building costs seconds per dbt run here, so the session builds once: ``raw_home`` holds DAYS days of
simulated raw tables, ``built_home`` a copy of it after a full ``dbt build`` (models, data tests and
unit tests). Tests that change data copy a warehouse into their own ``tmp_path`` first.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import KimeraConfig, load_config
from pipelines.features.dbt_cli import DbtRun, run_dbt
from pipelines.features.project import dbt_vars
from pipelines.features.sim_data import load_sim_reference, load_sim_window
from tests.conftest import REPO_ROOT

# 9 days: enough bars for every warm-up (the net flow z-score needs a week) and a day to spare.
DAYS = 9


@pytest.fixture(scope="session")
def sim_config() -> KimeraConfig:
    return load_config(REPO_ROOT / "kimera.yaml")


@pytest.fixture(scope="session")
def sim_window(sim_config: KimeraConfig) -> tuple[datetime, datetime]:
    return sim_config.start_time, sim_config.start_time + timedelta(days=DAYS)


def copy_home(source: Path, target: Path) -> Path:
    """A new KIMERA_HOME holding a copy of ``source``'s warehouse (and nothing else)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "warehouse.duckdb", target / "warehouse.duckdb")
    return target


@pytest.fixture(scope="session")
def raw_home(tmp_path_factory: pytest.TempPathFactory, sim_config, sim_window) -> Path:
    """A KIMERA_HOME whose warehouse holds DAYS days of simulated raw tables, nothing built."""
    home = tmp_path_factory.mktemp("raw-home")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        load_sim_reference(con, sim_config)
        load_sim_window(con, sim_config, *sim_window)
    return home


@pytest.fixture(scope="session")
def full_build(tmp_path_factory: pytest.TempPathFactory, raw_home: Path, sim_config) -> tuple[Path, DbtRun]:
    home = copy_home(raw_home, tmp_path_factory.mktemp("built-home"))
    run = run_dbt(["build"], home=home, dbt_vars=dbt_vars(sim_config))
    return home, run


@pytest.fixture(scope="session")
def built_home(full_build) -> Path:
    """A KIMERA_HOME after a full ``dbt build`` of the raw data: read it, never write it."""
    return full_build[0]


@pytest.fixture
def warehouse(built_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the built warehouse, closed after the test."""
    con = duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True)
    try:
        yield con
    finally:
        con.close()
