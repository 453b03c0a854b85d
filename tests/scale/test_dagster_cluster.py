"""Dagster on PostgreSQL: two backfills queued at once through the UI's API run in processes of
their own, their warehouse writes never overlap (pool ``duckdb`` at 1 across processes), and the
raw tables they leave equal a single-machine run of the same hours."""

from __future__ import annotations

import re
import time
from datetime import datetime

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, instance_for_test

from kimera.app.cluster.processes import Cluster, running_cluster
from kimera.schema import PARTITIONED_TABLES
from kimera.settings import Settings
from pipelines.definitions import build_location
from pipelines.ingest.schedules import INGEST_JOB
from pipelines.runner import run_job
from tests.conftest import REPO_ROOT
from tests.support.config import SIM_FILLED_TABLES

LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status } } }"""
DAY = "2026-01-01"


def _launch_backfill(cluster: Cluster, hours: range) -> str:
    params = {
        "partitionNames": [f"{DAY}-{h:02d}:00" for h in hours],
        "assetSelection": [{"path": ["raw", table.name]} for table in PARTITIONED_TABLES],
        "fromFailure": False,
    }
    launched = cluster.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def _wait_for(cluster: Cluster, backfills: list[str], timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = [
            cluster.graphql(STATUS, {"id": b})["partitionBackfillOrError"]["status"] for b in backfills
        ]
        if all(s.startswith("COMPLETED") or s in {"FAILED", "CANCELED"} for s in statuses):
            return statuses
        assert time.monotonic() < deadline, f"backfills still {statuses} after {timeout_s} s"
        time.sleep(3)


def _raw_tables(warehouse) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t.name: con.execute(f"SELECT * FROM raw.{t.name} ORDER BY ALL").fetchall()
            for t in PARTITIONED_TABLES
        }


@pytest.mark.slow
def test_two_backfills_queued_at_once_match_the_single_machine_run(kimera_home: Settings, tmp_path) -> None:
    with running_cluster(kimera_home, max_concurrent_runs=2) as cluster:
        backfills = [_launch_backfill(cluster, range(0, 6)), _launch_backfill(cluster, range(6, 12))]
        assert _wait_for(cluster, backfills, timeout_s=600) == ["COMPLETED_SUCCESS"] * 2
        with DagsterInstance.from_config(str(cluster.dagster_home)) as instance:
            runs = instance.get_runs()
            logs = {run.run_id: instance.all_logs(run.run_id) for run in runs}
    assert sorted(run.tags["dagster/backfill"] for run in runs) == sorted(backfills)
    assert all(run.status == DagsterRunStatus.SUCCESS for run in runs)

    # each run had a process of its own
    pids = set()
    for entries in logs.values():
        started = [re.search(r"Started process for run \(pid: (\d+)\)", e.message) for e in entries]
        pids |= {int(m.group(1)) for m in started if m}
    assert len(pids) == 2

    # no step met a locked warehouse, and no two steps of different runs held the file at once
    messages = [e.message for entries in logs.values() for e in entries]
    assert not [m for m in messages if "Could not set lock" in m]
    spans = []
    for run_id, entries in logs.items():
        began = {}
        for e in entries:
            kind = e.dagster_event.event_type if e.dagster_event else None
            if kind == DagsterEventType.STEP_START:
                began[e.step_key] = e.timestamp
            elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                spans.append((began.pop(e.step_key), e.timestamp, run_id))
    spans.sort()
    assert len(spans) >= 2 * len(PARTITIONED_TABLES)
    assert all(end <= nxt_start for (_, end, _), (nxt_start, _, _) in zip(spans, spans[1:], strict=False))
    assert {run for *_, run in spans} == set(logs)  # both runs wrote

    # the same twelve hours, one run in this process on a SQLite instance, in a second KIMERA_HOME
    alone = Settings(home=tmp_path / "single-machine", config=REPO_ROOT / "kimera.yaml")
    (tmp_path / "single-dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "single-dagster")) as instance:
        outcome = run_job(
            INGEST_JOB, instance, window=(datetime(2026, 1, 1, 0), datetime(2026, 1, 1, 12)),
            defs=build_location(alone), console_log_level="CRITICAL",
        )  # fmt: skip
    assert outcome.success, outcome.error
    clustered, single = _raw_tables(kimera_home.warehouse_path), _raw_tables(alone.warehouse_path)
    assert all(single[t.name] for t in SIM_FILLED_TABLES) and clustered == single
