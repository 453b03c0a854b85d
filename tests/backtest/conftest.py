"""A day of simulated raw events (no dbt needed: the backtest reads raw.* only), the loop's compiled
features for 30-minute bars, and a promoted linear model in the test's KIMERA_HOME."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import KimeraConfig
from pipelines.features.online_sql import compile_online_features
from pipelines.features.sim_data import load_sim_reference, load_sim_window
from tests.support.config import config_with, shipped_config_data, write_config

FEATURES = {"bar": "30m", "return_lags": [1, 2, 6], "vol_window": 4, "zscore_window": 6, "horizons": [1]}
SECTIONS = {"features": {**shipped_config_data().get("features", {}), **FEATURES}}


@pytest.fixture(scope="session")
def bt_config() -> KimeraConfig:
    return config_with(**SECTIONS)


@pytest.fixture(scope="session")
def bt_window(bt_config) -> tuple[datetime, datetime]:
    return bt_config.start_time, bt_config.start_time + timedelta(hours=12)


@pytest.fixture(scope="session")
def raw_warehouse(tmp_path_factory, bt_config) -> Path:
    path = tmp_path_factory.mktemp("raw") / "warehouse.duckdb"
    start = bt_config.start_time
    with duckdb.connect(str(path)) as con:
        load_sim_reference(con, bt_config)
        load_sim_window(con, bt_config, start, start + timedelta(days=1))
    return path


@pytest.fixture(scope="session")
def bt_compiled(tmp_path_factory, bt_config) -> Path:
    return compile_online_features(bt_config, tmp_path_factory.mktemp("compiled"))


@pytest.fixture
def bt_home(kimera_home, raw_warehouse, bt_config):
    """KIMERA_HOME with the raw day, the config file and a promoted linear model; yields settings."""
    from bench.live import _promote_linear

    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(raw_warehouse, kimera_home.warehouse_path)
    write_config(kimera_home.home_dir / "kimera.yaml", **SECTIONS)
    _promote_linear(kimera_home, bt_config.start_time)
    return kimera_home
