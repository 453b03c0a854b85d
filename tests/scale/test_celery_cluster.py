"""The Celery executor: a backfill's steps run on two Celery workers (separate processes, as two
machines would be) through a real Redis broker; one worker is killed (SIGKILL, its whole process
group) in the middle of a step, the step is handed to the other worker, the backfill completes and
the raw tables equal a single-machine run of the same hours."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime

import pytest
from dagster import DagsterEventType, DagsterInstance, instance_for_test

from kimera.app.cluster.processes import Cluster, running_cluster
from kimera.settings import Settings
from pipelines.definitions import build_location
from pipelines.ingest.schedules import INGEST_JOB
from pipelines.runner import run_job
from tests.conftest import REPO_ROOT
from tests.scale.test_dagster_cluster import _launch_backfill, _raw_tables, _wait_for
from tests.support.config import SIM_FILLED_TABLES

HOURS = range(0, 12)


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


def _kill_a_worker_mid_step(cluster: Cluster, instance: DagsterInstance, timeout_s: float) -> tuple[str, str]:
    """SIGKILL the process group of a worker caught in the middle of a step; returns (step key,
    worker name).

    A worker seen running a step is frozen (SIGSTOP) first; if the step had in fact finished, it is
    let go on (SIGCONT) and the next one is tried, so the kill always lands mid-step.
    """
    deadline = time.monotonic() + timeout_s
    tried: set[tuple[str, str]] = set()
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
def test_a_killed_celery_worker_steps_move_to_the_other_and_tables_match(
    kimera_home: Settings, tmp_path
) -> None:
    with running_cluster(
        kimera_home, max_concurrent_runs=1, executor="celery", workers=2, visibility_timeout_s=20
    ) as cluster:
        assert cluster.broker_url and cluster.broker_url.startswith("redis://127.0.0.1:")
        assert len({w.pid for w in cluster.workers}) == 2
        backfill = _launch_backfill(cluster, HOURS)
        with DagsterInstance.from_config(str(cluster.dagster_home)) as instance:
            killed_step, killed_worker = _kill_a_worker_mid_step(cluster, instance, timeout_s=600)
            assert killed_step not in _succeeded(instance)  # it was killed mid-step
            assert _wait_for(cluster, [backfill], timeout_s=900) == ["COMPLETED_SUCCESS"]
            steps = _celery_steps(instance)
            succeeded = _succeeded(instance)

    # every step ran on a Celery worker; the killed one's step ran again, on the other worker
    survivor = next(w.name for w in cluster.workers if w.name != killed_worker)
    assert succeeded == {step for step, _ in steps}
    assert [w for s, w in steps if s == killed_step] == [killed_worker, survivor]
    assert all(w == survivor for s, w in steps if s != killed_step)

    # the same hours, one run in this process on a SQLite instance, in a second KIMERA_HOME
    alone = Settings(home=tmp_path / "single-machine", config=REPO_ROOT / "kimera.yaml")
    (tmp_path / "single-dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "single-dagster")) as single_instance:
        outcome = run_job(
            INGEST_JOB, single_instance, window=(datetime(2026, 1, 1, HOURS.start), datetime(2026, 1, 1, HOURS.stop)),
            defs=build_location(alone), console_log_level="CRITICAL",
        )  # fmt: skip
    assert outcome.success, outcome.error
    clustered, single = _raw_tables(kimera_home.warehouse_path), _raw_tables(alone.warehouse_path)
    assert all(single[t.name] for t in SIM_FILLED_TABLES) and clustered == single
