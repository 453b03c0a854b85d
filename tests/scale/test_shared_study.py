"""One optuna study on PostgreSQL, three trainer processes: every planned trial is evaluated once,
by one worker, and the best trial is the one a single process finds on the same seed budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from models.shared_study import plan_study, study_result, work_on_study
from tests.conftest import REPO_ROOT
from tests.scale.study_world import KIND, study_config, study_windows
from tests.support.servers import postgres  # noqa: F401  (fixture)

WORKERS = 3


def _start_workers(storage: str, study: str, folder: Path) -> list[tuple[subprocess.Popen, Path]]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    started = []
    for n in range(WORKERS):
        out = folder / f"worker-{n}.json"
        command = [sys.executable, "-m", "tests.scale.shared_study_worker", storage, study, f"worker-{n}"]
        process = subprocess.Popen([*command, str(folder / "go"), str(out)], cwd=REPO_ROOT, env=env)
        started.append((process, out))
    return started


@pytest.mark.slow
def test_three_trainer_processes_share_one_postgresql_study(postgres, tmp_path) -> None:  # noqa: F811
    cfg = study_config()
    storage = postgres.url(postgres.create_database("optuna"), driver="postgresql+psycopg")
    assert plan_study(KIND, cfg, storage, "shared") == 9
    assert plan_study(KIND, cfg, storage, "shared") == 9  # planning again adds nothing

    workers = _start_workers(storage, "shared", tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not all(Path(f"{out}.ready").exists() for _, out in workers):
            assert all(p.poll() is None for p, _ in workers), "a worker died while loading"
            assert time.monotonic() < deadline, "workers did not get ready"
            time.sleep(0.1)
        (tmp_path / "go").touch()
        for process, _ in workers:
            assert process.wait(timeout=300) == 0
    finally:
        for process, _ in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
    claimed = [json.loads(out.read_text()) for _, out in workers]
    numbers = [n for trials in claimed for n in trials]
    assert sorted(numbers) == list(range(9))  # every trial once, no duplicate, none invented
    assert sum(bool(trials) for trials in claimed) >= 2  # the work was really shared
    shared = optuna.load_study(study_name="shared", storage=storage)
    assert [t.state for t in shared.trials] == [optuna.trial.TrialState.COMPLETE] * 9
    by_worker = {t.number: t.user_attrs["worker"] for t in shared.trials}
    for n, trials in enumerate(claimed):
        assert all(by_worker[t] == f"worker-{n}" for t in trials)

    # the same seed budget in one process, on a study of its own
    assert plan_study(KIND, cfg, storage, "serial") == 9
    alone = work_on_study(KIND, study_windows(cfg), cfg, storage, "serial")
    assert alone.trials == list(range(9))
    serial, parallel = study_result(KIND, cfg, storage, "serial"), study_result(KIND, cfg, storage, "shared")
    assert parallel.best_params == serial.best_params
    assert parallel.best_value == pytest.approx(serial.best_value, abs=1e-12)
    assert (parallel.chosen, parallel.params) == (serial.chosen, serial.params)
    serial_values = [t.value for t in optuna.load_study(study_name="serial", storage=storage).trials]
    assert [t.value for t in shared.trials] == pytest.approx(serial_values, abs=1e-12)
