"""Fixtures for the features domain in Dagster: a KIMERA_HOME holding simulated raw data, the
features and ingest definitions bound to it, and a runner for the features job."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, Definitions

from kimera.config import KimeraConfig, load_config
from kimera.settings import Settings
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import DBT_PROJECT_DIR
from tests.conftest import REPO_ROOT
from tests.dbt.conftest import DAYS, raw_home, sim_config, sim_window  # noqa: F401  (shared fixtures)


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt_project/target/manifest.json, parsed from the models as they are now (`make setup` does
    the same): the dbt assets are defined from it."""
    home = tmp_path_factory.mktemp("parse-home")
    run_dbt(["parse"], home=home, target_path=DBT_PROJECT_DIR / "target")
    return DBT_PROJECT_DIR / "target" / "manifest.json"


@pytest.fixture
def home(kimera_home: Settings, raw_home: Path) -> Settings:  # noqa: F811
    """The test's KIMERA_HOME with a copy of the session's simulated raw warehouse."""
    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(raw_home / "warehouse.duckdb", kimera_home.warehouse_path)
    return kimera_home


@pytest.fixture
def config(home: Settings) -> KimeraConfig:
    return load_config(REPO_ROOT / "kimera.yaml")


@pytest.fixture
def defs(dbt_manifest: Path, home: Settings, config: KimeraConfig) -> Definitions:
    """The code location as `dagster dev` loads it, bound to this test's home."""
    from pipelines.definitions import build_location

    return build_location(settings=home, config=config)


@pytest.fixture
def instance(home: Settings):
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def run_features(defs: Definitions, instance: DagsterInstance) -> Callable:
    """Run the features job over ``[start, end)`` (whole hours) in this process; returns the outcome."""
    from pipelines.runner import run_job

    def run(start: datetime, end: datetime):
        return run_job("features", instance, window=(start, end), defs=defs, console_log_level="ERROR")

    return run
