"""Dagster's own CLI, as docs/ingest.md shows it, on the instance kimera makes: the fast path lives in
dagster.yaml, not in variables that only `kimera` exports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter

from kimera.settings import DAGSTER_TUNING, Settings, prepare_home
from tests.conftest import REPO_ROOT
from tests.pipelines.features.conftest import dbt_manifest  # noqa: F401  (the code location needs it)


def _ranged_example() -> list[str]:
    """The lines of the docs' code block that runs `dagster job execute`."""
    text = (REPO_ROOT / "docs" / "ingest.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    block = next(b for b in blocks if "dagster job execute" in b)
    return [line for line in block.splitlines() if line.strip()]


def test_the_docs_ranged_job_example_runs_as_written_with_only_dagster_home(
    kimera_home: Settings,
    tmp_path: Path,
    dbt_manifest: Path,  # noqa: F811
    monkeypatch,
):
    # `kimera` made the instance (as after `kimera demo` or `kimera ui`); the user's shell has none of
    # kimera's own variables, only what the example exports.
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.setenv("KIMERA_HOME", str(work / ".kimera"))
    from kimera.settings import get_settings

    get_settings.cache_clear()
    prepare_home(get_settings())
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "KIMERA_HOME": str(work / ".kimera"),
        "KIMERA_CONFIG": str(REPO_ROOT / "kimera.yaml"),
        "DAGSTER_DISABLE_TELEMETRY": "true",
    }
    assert not set(DAGSTER_TUNING) & set(env)
    script = "set -e\n" + "\n".join(_ranged_example())
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]

    with duckdb.connect(str(work / ".kimera" / "warehouse.duckdb"), read_only=True) as con:
        hours = con.execute(
            "select count(distinct date_trunc('hour', open_time)) from raw.exchange_ohlcv"
        ).fetchone()
    assert hours == (6,)  # 00:00 through 05:00, one run
    monkeypatch.setenv("DAGSTER_HOME", str(work / ".kimera" / "dagster"))
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs] == ["ingest_raw"] and runs[0].is_success
        planned = instance.get_event_records(
            EventRecordsFilter(
                DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=AssetKey(["raw", "exchange_ohlcv"])
            )
        )
        assert len(planned) == 1  # one per asset for the range, not one per partition


def test_the_instance_turns_on_batched_event_writes_for_any_process(kimera_home: Settings, monkeypatch):
    prepare_home(kimera_home)
    for key in DAGSTER_TUNING:
        monkeypatch.delenv(key, raising=False)
    with DagsterInstance.from_config(str(kimera_home.dagster_home)) as instance:
        assert instance.event_log_storage.supports_partition_subset_in_asset_materialization_planned_events
        assert instance._get_event_batch_size() == 1000
