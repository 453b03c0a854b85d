"""The batching event log stores a ranged run exactly as Dagster's stock SQLite event log does.

One run over 48 hourly partitions of two assets (one with a check), on two instances: the stock
storage and ``pipelines.dagster_storage``. The UI and the automation read partitions materialised, each
asset's latest materialisation, the events of each partition and the planned check rows: they must
be the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import (
    AssetCheckResult,
    AssetKey,
    DagsterInstance,
    Definitions,
    HourlyPartitionsDefinition,
    asset,
    asset_check,
    define_asset_job,
)
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable

from kimera.settings import DAGSTER_TUNING

PARTITIONS = HourlyPartitionsDefinition(start_date="2026-01-01-00:00")
FIRST, LAST = "2026-01-01-00:00", "2026-01-02-23:00"


@asset(partitions_def=PARTITIONS)
def prices() -> None:
    return None


@asset(partitions_def=PARTITIONS, deps=[prices])
def signals() -> None:
    return None


@asset_check(asset=prices)
def prices_positive() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


JOB = define_asset_job("both", selection=[prices, signals], partitions_def=PARTITIONS)
DEFS = Definitions(assets=[prices, signals], asset_checks=[prices_positive], jobs=[JOB])

BATCHING = """
event_log_storage:
  module: pipelines.dagster_storage
  class: BatchingSqliteEventLogStorage
  config:
    dagster_home: {home}
"""


def ranged_run(home: Path, yaml: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.format(home=home))
    for key, value in DAGSTER_TUNING.items():
        monkeypatch.setenv(key, value)
    with DagsterInstance.from_config(str(home)) as instance:
        job = DEFS.resolve_job_def("both")
        result = job.execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST},
        )
        assert result.success
        seen = {}
        for key in (AssetKey("prices"), AssetKey("signals")):
            records = instance.fetch_materializations(key, limit=1000).records
            latest = instance.get_asset_records([key])[0].asset_entry.last_materialization_record
            seen[key.to_user_string()] = {
                "partitions": sorted(instance.get_materialized_partitions(key)),
                "events": sorted(r.partition_key for r in records),
                "latest_partition": latest.partition_key,
                "latest_is_newest_record": latest.storage_id == max(r.storage_id for r in records),
            }
        with instance.event_log_storage.index_connection() as conn:
            rows = conn.execute(
                AssetCheckExecutionsTable.select().where(
                    AssetCheckExecutionsTable.c.check_name == "prices_positive"
                )
            ).fetchall()
        seen["planned_check_partitions"] = sorted(r.partition for r in rows if r.partition is not None)
        return seen


def test_a_ranged_run_is_stored_as_by_the_stock_storage(tmp_path, monkeypatch):
    stock = ranged_run(tmp_path / "stock", "telemetry:\n  enabled: false\n", monkeypatch)
    batching = ranged_run(tmp_path / "batching", "telemetry:\n  enabled: false\n" + BATCHING, monkeypatch)
    assert batching == stock
    # not vacuous: every partition of both assets, and a planned check row per partition
    assert len(stock["signals"]["partitions"]) == 48
    assert stock["signals"]["events"] == stock["signals"]["partitions"]
    assert stock["prices"]["latest_is_newest_record"]
    assert len(stock["planned_check_partitions"]) == 48
