"""`kimera train` on the lake (``KIMERA_LAKE_URL``, moto's S3 server): the training reads the lake's
mart files while another process's `kimera ingest` appends raw hours, writes ``ml.*`` to the lake's
catalog (no local warehouse), and its walk-forward scores equal those of the same training on a
local warehouse built from the same data."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from kimera.config import load_config
from kimera.schema import EXCHANGE_OHLCV
from kimera.schema.ml import EVALUATION_METRICS
from kimera.settings import Settings
from pipelines.lake.flow import (
    build_marts_on_lake,
    catalog_path,
    ingest_reference_to_lake,
    ingest_window_to_lake,
)
from pipelines.lake.store import open_lake, partition_path
from tests.conftest import REPO_ROOT
from tests.pipelines.features.conftest import dbt_manifest  # noqa: F401  (the code location needs it)
from tests.support.config import write_config
from tests.support.local_marts import build_local_marts
from tests.support.servers import s3_server  # noqa: F401  (fixture)

START = datetime(2026, 1, 1)
DAYS = 8
PARTITION = "2026-01-08"  # trains on the bars before 2026-01-09: every day ingested
KIMERA = str(Path(sys.executable).parent / "kimera")  # the console script
SMALL_MODELS = {
    "seq_len": 8, "train_bars": 100, "val_bars": 30, "test_bars": 30, "max_windows": 1, "seeds": [0],
    "max_epochs": 2, "patience": 1, "lstm": {"hidden": 8},
    "transformer": {"d_model": 8, "heads": 2, "layers": 1, "ff": 16},
    "lightgbm": {"n_estimators": 40}, "hpo": {"trials": 1, "folds": 1},
}  # fmt: skip
SCORES = f"""
    SELECT model, "window", seed, train_start, train_end, test_start, test_end,
           {", ".join(f'"{m}"' for m in EVALUATION_METRICS)}
    FROM ml.evaluations ORDER BY model, "window", seed"""


def _env(home: Path, config: Path, lake_url: str | None = None, endpoint_url: str | None = None) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KIMERA_")},
        "PYTHONPATH": str(REPO_ROOT),
        "OMP_NUM_THREADS": "1",
        "KIMERA_HOME": str(home),
        "KIMERA_CONFIG": str(config),
        "DAGSTER_HOME": str(home / "dagster"),
        "BENTOML_HOME": str(home / "bentoml"),
    }
    if lake_url:
        env |= {"KIMERA_LAKE_URL": lake_url, "KIMERA_LAKE_ENDPOINT_URL": endpoint_url}
    return env


def _kimera(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [KIMERA, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"kimera {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _scores(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(SCORES).fetchall()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two trainings and an ingest, each a process importing Dagster and torch
def test_train_on_the_lake_while_ingest_appends_scores_as_the_local_warehouse(
    s3_server,  # noqa: F811
    dbt_manifest,  # noqa: F811
    tmp_path,
) -> None:
    config_path = write_config(
        tmp_path / "kimera.yaml", exchange={"source": "sim", "timeframe": "1h"}, models=SMALL_MODELS
    )
    config = load_config(config_path)
    end = START + timedelta(days=DAYS)
    lake_url = f"s3://{s3_server.bucket}/lake"
    lake = open_lake(lake_url, endpoint_url=s3_server.endpoint_url)
    # the marts are built on one machine (its catalog), the training runs on another (its own home)
    builder = Settings(home=tmp_path / "builder", config=config_path, lake_url=lake_url,
                       lake_endpoint_url=s3_server.endpoint_url)  # fmt: skip
    ingest_reference_to_lake(lake, config)
    ingest_window_to_lake(lake, config, START, end)
    assert build_marts_on_lake(builder, lake, config) == 2 * len(config.assets)
    trainer = Settings(home=tmp_path / "trainer", config=config_path, lake_url=lake_url,
                       lake_endpoint_url=s3_server.endpoint_url)  # fmt: skip

    local = build_local_marts(tmp_path / "local", config_path, START, end)

    # training reads the lake's marts while a second process appends the next hours' raw files
    lake_env = _env(trainer.home_dir, config_path, lake_url, s3_server.endpoint_url)
    appended = end + timedelta(hours=6)
    writer = subprocess.Popen(
        [KIMERA, "ingest", "--from", f"{end:%Y-%m-%d %H:%M}", "--to", f"{appended:%Y-%m-%d %H:%M}"],
        env=lake_env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        trained = _kimera(lake_env, "train")  # its default day: the newest labelled one in the lake
        output = writer.communicate(timeout=900)[0]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=60)
    assert writer.returncode == 0, output[-3000:]
    assert lake.fs.exists(partition_path(lake, EXCHANGE_OHLCV, appended - timedelta(hours=1)))
    assert f"train: partition {PARTITION}" in trained and "ensemble" in trained, trained
    assert not trainer.warehouse_path.exists()  # nothing went to a local warehouse
    with duckdb.connect(str(catalog_path(trainer)), read_only=True) as con:  # ml.* live in the catalog
        # and the marts were read from the lake's files: the trainer's catalog never held any
        assert not con.execute("SELECT * FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()
    on_lake = _scores(catalog_path(trainer))

    # the same training on the local warehouse built from the same hours scores the same
    _kimera(_env(local.home_dir, config_path), "train", "--day", PARTITION)
    here = _scores(local.warehouse_path)
    assert {row[0] for row in here} >= {"linear", "lightgbm", "lstm", "transformer", "ensemble"}
    assert len(on_lake) == len(here)
    for lake_row, local_row in zip(on_lake, here, strict=True):
        assert lake_row[:7] == local_row[:7]  # model, window, seed and the window's bars
        lake_scores = dict(zip(EVALUATION_METRICS, lake_row[7:], strict=True))
        local_scores = dict(zip(EVALUATION_METRICS, local_row[7:], strict=True))
        # the same bars called the same way: every hit and miss
        assert (lake_scores["n"], lake_scores["accuracy"]) == (local_scores["n"], local_scores["accuracy"])
        # the marts agree to the last bits only (features summed over rows from several files in
        # another order: test_lake), which the fits carry on; the ensemble's weights fit moves ~1e-6
        for metric, value in local_scores.items():
            assert _close(lake_scores[metric], value), (lake_row[0], metric, lake_scores[metric], value)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12)
