"""``kimera demo``: the window it ingests, idempotent runs that show on the Dagster instance, and a clean
stop on Ctrl-C that leaves every chunk whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime

import duckdb
import pytest
from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

from kimera.app.cli import main
from kimera.app.demo.run import STAGES, demo_window
from kimera.config import ConfigError, load_config
from kimera.schema import PARTITIONED_TABLES
from kimera.settings import DAGSTER_TUNING, Settings
from tests.conftest import REPO_ROOT
from tests.support.config import SIM_FILLED_TABLES


@pytest.fixture(autouse=True)
def _restore_dagster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo exports Dagster's settings into the process; put them back after each test."""
    for key in DAGSTER_TUNING:
        monkeypatch.delenv(key, raising=False)


def _config():
    return load_config(REPO_ROOT / "kimera.yaml")


def test_the_window_is_start_plus_days_cut_at_the_last_complete_hour() -> None:
    config = _config()
    start = config.start_time
    assert demo_window(config, 2, now=datetime(2030, 1, 1)) == (
        start,
        datetime(start.year, start.month, start.day + 2),
    )
    assert demo_window(config, None, now=datetime(2030, 1, 1))[1] == config.demo_end
    cut = demo_window(config, 30, now=datetime(start.year, start.month, start.day + 3, 7, 42))
    assert cut == (start, datetime(start.year, start.month, start.day + 3, 7))


def test_a_window_that_has_not_happened_yet_is_refused_clearly() -> None:
    config = _config().model_copy(update={"start": date(2031, 1, 1)})
    with pytest.raises(ConfigError, match="start = 2031-01-01 is not accepted.*last complete hour"):
        demo_window(config, 1, now=datetime(2030, 6, 1))
    with pytest.raises(ConfigError, match="--days 0 is not accepted"):
        demo_window(_config(), 0)


def test_every_stage_has_a_unique_name_and_an_importable_function() -> None:
    assert len({s.name for s in STAGES}) == len(STAGES)
    assert STAGES[0].name == "ingest"
    assert all(callable(s.function) for s in STAGES)


def _counts(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {
            t.name: con.execute(f"SELECT count(*) FROM raw.{t.name}").fetchall()[0][0]
            for t in PARTITIONED_TABLES
        }


@pytest.mark.slow
def test_the_ingest_stage_run_twice_gives_the_same_rows_and_shows_its_runs_on_the_instance(
    kimera_home,
) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--days", "1", "--stage", "ingest"])
    assert first.exit_code == 0, first.output
    counts = _counts(kimera_home)
    assert all(counts[t.name] > 0 for t in SIM_FILLED_TABLES), counts
    config = _config()
    assert counts["exchange_ohlcv"] == len(config.sim.venues) * len(config.assets) * 24 * 60
    assert str(kimera_home.warehouse_path) in first.output
    assert 'kimera sql "select' in first.output and "raw.exchange_trades" in first.output

    second = runner.invoke(main, ["demo", "--days", "1", "--stage", "ingest"])
    assert second.exit_code == 0, second.output
    assert _counts(kimera_home) == counts

    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert sorted((r.job_name, r.status.value) for r in runs) == [
            ("ingest_raw", "SUCCESS"),
            ("ingest_raw", "SUCCESS"),
            ("ingest_reference", "SUCCESS"),
            ("ingest_reference", "SUCCESS"),
        ]
        for table in PARTITIONED_TABLES:
            assert len(instance.get_materialized_partitions(AssetKey(["raw", table.name]))) == 24


def _run_started(settings: Settings) -> bool:
    runs_db = settings.dagster_home / "history" / "runs.db"
    if not runs_db.exists():
        return False
    with sqlite3.connect(runs_db) as con:
        try:
            rows = con.execute("SELECT pipeline_name, status FROM runs").fetchall()
        except sqlite3.OperationalError:
            return False
    return ("ingest_raw", "STARTED") in rows


@pytest.mark.slow
def test_ctrl_c_stops_the_demo_cleanly_and_a_rerun_finishes_the_job(kimera_home) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    command = [sys.executable, "-m", "kimera", "demo", "--days", "4", "--stage", "ingest"]
    demo = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while not _run_started(kimera_home):
        assert demo.poll() is None and time.monotonic() < deadline, "the raw-tables run never started"
        time.sleep(0.1)
    time.sleep(1.0)
    demo.send_signal(signal.SIGINT)
    output, _ = demo.communicate(timeout=120)
    assert demo.returncode == 130, output
    assert "Interrupted." in output and "run `kimera demo` again" in output

    # Each day's chunk of candles is either untouched or whole: never half a day.
    config = _config()
    per_day = len(config.sim.venues) * len(config.assets) * 24 * 60
    if kimera_home.warehouse_path.exists():
        with duckdb.connect(str(kimera_home.warehouse_path), read_only=True) as con:
            if con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'exchange_ohlcv'"
            ).fetchall()[0][0]:
                days = con.execute(
                    "SELECT count(*) FROM raw.exchange_ohlcv GROUP BY date_trunc('day', open_time)"
                ).fetchall()
                assert all(n == per_day for (n,) in days), days

    again = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _counts(kimera_home)["exchange_ohlcv"] == 4 * per_day
