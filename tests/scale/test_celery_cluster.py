"""The Celery executor: a training partition and an ingest backfill run their steps on two Celery
workers (separate processes, as two machines would be) through a real Redis broker. The training
run's parallel steps use both workers; then one worker is killed (SIGKILL, its whole process group)
in the middle of an ingest step, the step is handed to the other worker, the backfill completes and
the raw tables equal a single-machine run of the same hours."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime

import duckdb
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, instance_for_test

from kimera.app.cluster.processes import Cluster, running_cluster
from kimera.settings import Settings
from models.synthetic import make_world
from pipelines.definitions import build_location
from pipelines.ingest.schedules import INGEST_JOB
from pipelines.runner import run_job
from tests.conftest import REPO_ROOT
from tests.pipelines.ml.test_assets import SMALL_MODELS
from tests.scale.test_dagster_cluster import LAUNCH, STATUS

HOURS = range(0, 12)
TABLES = ("exchange_ohlcv", "chain_blocks", "lending_reserves")  # a few, to keep the test short
PARTITION = "2026-02-10"  # a training partition the synthetic marts cover
LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def _settings(tmp_path, name: str) -> Settings:
    """A KIMERA_HOME with the repository's config and small models, its marts a synthetic world."""
    config = yaml.safe_load((REPO_ROOT / "kimera.yaml").read_text())
    config["models"] = SMALL_MODELS
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = Settings(home=tmp_path / name, config=path)
    settings.home_dir.mkdir(parents=True)
    world = make_world(bars=1000, strength=0.4, seed=3)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.register("f", world.features)
        con.register("l", world.labels)
        con.execute("CREATE TABLE marts.features AS SELECT * FROM f")
        con.execute("CREATE TABLE marts.labels AS SELECT * FROM l")
    return settings


def _wait(
    cluster: Cluster, query: str, variables: dict, path: tuple[str, str], done, timeout_s: float
) -> str:
    """Poll ``query`` until ``done`` holds for the status at ``path``; returns that status."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = cluster.graphql(query, variables)[path[0]][path[1]]
        if done(status):
            return status
        assert time.monotonic() < deadline, f"still {status} after {timeout_s} s"
        time.sleep(3)


def _raw_tables(warehouse) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM raw.{t} ORDER BY ALL").fetchall() for t in TABLES}


def _celery_steps(instance: DagsterInstance) -> list[tuple[str, str]]:
    """(step key, worker name) of every step a Celery worker began, in order, over all runs (the
    worker records the event, and the run records it again when the step's result arrives)."""
    steps = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
            if "Executing steps" in entry.message and "in celery worker" in entry.message:
                metadata = entry.dagster_event.engine_event_data.metadata
                steps.append((entry.step_key, metadata["Celery worker"].value))
    return list(dict.fromkeys(steps))


def _succeeded(instance: DagsterInstance) -> set[str]:
    return {
        entry.step_key
        for run in instance.get_runs()
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS)
    }


def _kill_a_worker_mid_step(
    cluster: Cluster, instance: DagsterInstance, earlier: set[tuple[str, str]], timeout_s: float
) -> tuple[str, str]:
    """SIGKILL the process group of a worker caught in the middle of a step; returns (step key,
    worker name).

    A worker seen running a step is frozen (SIGSTOP) first; if the step had in fact finished, it is
    let go on (SIGCONT) and the next one is tried, so the kill always lands mid-step.
    """
    deadline = time.monotonic() + timeout_s
    tried = set(earlier)  # steps seen before: not candidates
    while True:
        assert time.monotonic() < deadline, f"no worker caught in the middle of a step in {timeout_s} s"
        done = _succeeded(instance)
        running = [s for s in _celery_steps(instance) if s[0] not in done and s not in tried]
        if not running:
            time.sleep(0.2)
            continue
        step, name = running[0]
        tried.add((step, name))
        worker = next(w for w in cluster.workers if w.name == name)
        os.killpg(worker.pid, signal.SIGSTOP)
        if step in _succeeded(instance):
            os.killpg(worker.pid, signal.SIGCONT)
            continue
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool: a machine lost
        return step, name


@pytest.mark.slow
def test_training_and_ingest_run_on_celery_workers_and_survive_a_killed_one(kimera_home, tmp_path) -> None:
    clustered = _settings(tmp_path, "clustered")
    # the killed worker's step is handed on after the visibility timeout: short, to keep the test
    # short, but well above the longest step here (~30 s on a loaded 2-core machine), which a
    # shorter one would hand to a second worker while the first still runs it
    with running_cluster(
        clustered, max_concurrent_runs=1, executor="celery", workers=2, visibility_timeout_s=90
    ) as cluster:
        assert cluster.broker_url and cluster.broker_url.startswith("redis://127.0.0.1:")
        assert len({w.pid for w in cluster.workers}) == 2
        with DagsterInstance.from_config(str(cluster.dagster_home)) as instance:
            # a training partition: its searches and members run side by side, one per worker
            selector = {"repositoryLocationName": "kimera", "repositoryName": "__repository__"}
            params = {
                "selector": {**selector, "jobName": "ml_training"},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
            }
            launched = cluster.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            status = _wait(cluster, RUN_STATUS, {"id": run_id}, ("runOrError", "status"),
                           lambda s: s in {"SUCCESS", "FAILURE", "CANCELED"}, timeout_s=900)  # fmt: skip
            assert status == "SUCCESS"
            training = _celery_steps(instance)
            assert {w for _, w in training} == {w.name for w in cluster.workers}
            assert {"ml__dataset", "ml__ensemble", "ml__evaluations"} <= {s for s, _ in training}

            # an ingest backfill, one worker killed in the middle of a step
            backfill = {
                "partitionNames": [f"2026-01-01-{h:02d}:00" for h in HOURS],
                "assetSelection": [{"path": ["raw", t]} for t in TABLES],
                "fromFailure": False,
            }
            launched = cluster.graphql(LAUNCH, {"params": backfill})["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            killed_step, killed_worker = _kill_a_worker_mid_step(cluster, instance, set(training), 600)
            assert killed_step not in _succeeded(instance)  # it was killed mid-step
            status = _wait(cluster, STATUS, {"id": launched["backfillId"]}, ("partitionBackfillOrError", "status"),
                           lambda s: s.startswith("COMPLETED") or s in {"FAILED", "CANCELED"}, timeout_s=900)  # fmt: skip
            assert status == "COMPLETED_SUCCESS"
            steps = [s for s in _celery_steps(instance) if s not in set(training)]
            succeeded = _succeeded(instance)
    with duckdb.connect(str(clustered.warehouse_path), read_only=True) as con:
        models = con.execute("SELECT DISTINCT model FROM ml.evaluations ORDER BY model").fetchall()
    assert [m for (m,) in models] == sorted(
        ["always_up", "persistence", "linear", "lightgbm", "lstm", "transformer", "ensemble"]
    )

    # every step ran on a Celery worker; the killed one's step ran again, on the other worker
    survivor = next(w.name for w in cluster.workers if w.name != killed_worker)
    assert succeeded == {step for step, _ in training + steps}
    assert [w for s, w in steps if s == killed_step] == [killed_worker, survivor]
    assert all(w == survivor for s, w in steps if s != killed_step)

    # the same hours, one run in this process on a SQLite instance, in a second KIMERA_HOME
    alone = _settings(tmp_path, "single-machine")
    (tmp_path / "single-dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "single-dagster")) as single_instance:
        outcome = run_job(
            INGEST_JOB, single_instance, window=(datetime(2026, 1, 1, HOURS.start), datetime(2026, 1, 1, HOURS.stop)),
            defs=build_location(alone), console_log_level="CRITICAL",
        )  # fmt: skip
    assert outcome.success, outcome.error
    on_workers, single = _raw_tables(clustered.warehouse_path), _raw_tables(alone.warehouse_path)
    assert all(single.values()) and on_workers == single
