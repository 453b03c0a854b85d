"""The code location as ``dagster dev`` loads it: every raw table an asset in group ingest, writers in
the duckdb pool with retries, resources bound, and an hourly schedule for the latest complete hour."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from dagster import AssetKey, Backoff, Definitions, build_schedule_context

from kimera.config import load_config
from kimera.schema import PARTITIONED_TABLES, RAW_TABLES
from pipelines.ingest.definitions import build_defs
from pipelines.ingest.schedules import INGEST_JOB, SCHEDULE
from pipelines.resources import WarehouseResource, location_config, shared_resources
from tests.pipelines.ingest.conftest import REPO_CONFIG


@pytest.fixture
def repository(kimera_home):
    defs = Definitions.merge(build_defs(load_config(REPO_CONFIG)), Definitions(resources=shared_resources()))
    return defs.get_repository_def()


def test_the_code_location_loads_with_every_raw_table_as_an_ingest_asset(kimera_home) -> None:
    import pipelines.definitions
    import pipelines.ingest.definitions

    # Load it afresh for this KIMERA_HOME, as `dagster dev` does in its own process.
    location_config.cache_clear()
    importlib.reload(pipelines.ingest.definitions)
    defs = importlib.reload(pipelines.definitions).defs
    repository = defs.get_repository_def()
    ingest = {k for k, a in repository.assets_defs_by_key.items() if a.group_names_by_key[k] == "ingest"}
    assert ingest == {AssetKey(["raw", name]) for name in RAW_TABLES}
    assert isinstance(defs.resources["warehouse"], WarehouseResource)
    assert defs.resources["warehouse"].database == str(kimera_home.warehouse_path)


def test_every_ingest_writer_holds_the_duckdb_pool_and_retries_with_backoff(repository) -> None:
    config = load_config(REPO_CONFIG)
    for name in RAW_TABLES:
        op = repository.assets_defs_by_key[AssetKey(["raw", name])].op
        assert op.pool == "duckdb", name
        assert op.retry_policy.max_retries == config.ingest.max_retries
        assert op.retry_policy.backoff == Backoff.EXPONENTIAL


@pytest.mark.parametrize(
    ("tick", "partition"),
    [
        (datetime(2026, 3, 1, 13, 5, tzinfo=UTC), "2026-03-01-12:00"),
        (datetime(2026, 3, 2, 0, 5, tzinfo=UTC), "2026-03-01-23:00"),
    ],
)
def test_the_hourly_schedule_ingests_the_hour_that_just_ended(repository, tick, partition) -> None:
    schedule = repository.get_schedule_def(SCHEDULE)
    assert schedule.cron_schedule == "5 * * * *" and schedule.execution_timezone == "UTC"
    assert schedule.job_name == INGEST_JOB
    result = schedule.evaluate_tick(
        build_schedule_context(scheduled_execution_time=tick, repository_def=repository)
    )
    assert [r.partition_key for r in result.run_requests] == [partition]
    job = repository.get_job(INGEST_JOB)
    assert {k.path[-1] for k in job.asset_layer.executable_asset_keys} == {t.name for t in PARTITIONED_TABLES}
