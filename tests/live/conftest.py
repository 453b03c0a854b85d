"""A small world for the loop's tests: a day of 30-minute bars (not the default hour, so the
templates are shown to follow the bar) with short windows, so every feature is warm within it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import KimeraConfig
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.online_sql import compile_online_features
from pipelines.features.project import dbt_vars
from pipelines.features.sim_data import load_sim_reference, load_sim_window
from tests.support.config import config_with, shipped_config_data

FEATURES = {"bar": "30m", "return_lags": [1, 2, 6], "vol_window": 4, "zscore_window": 6, "horizons": [1]}


@pytest.fixture(scope="session")
def live_config() -> KimeraConfig:
    return config_with(features={**shipped_config_data().get("features", {}), **FEATURES})


@pytest.fixture(scope="session")
def live_window(live_config: KimeraConfig) -> tuple[datetime, datetime]:
    return live_config.start_time, live_config.start_time + timedelta(days=1)


@pytest.fixture(scope="session")
def compiled(tmp_path_factory: pytest.TempPathFactory, live_config: KimeraConfig) -> Path:
    """The online feature templates of ``live_config``, compiled once per session."""
    return compile_online_features(live_config, tmp_path_factory.mktemp("compiled"))


def build_batch(home: Path, config: KimeraConfig, start: datetime, end: datetime, **dbt_kwargs) -> Path:
    """Simulated raw tables of ``[start, end)`` and ``dbt run`` of the features, in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        load_sim_reference(con, config)
        load_sim_window(con, config, start, end)
    run_dbt(["run", "--select", "+features", "labels"], home=home, dbt_vars=dbt_vars(config), **dbt_kwargs)
    return home


@pytest.fixture(scope="session")
def batch_home(tmp_path_factory: pytest.TempPathFactory, live_config, live_window) -> Path:
    """A warehouse holding the window's raw tables and ``marts.features`` built by dbt."""
    return build_batch(tmp_path_factory.mktemp("batch"), live_config, *live_window)
