"""The lake as the product path: with ``KIMERA_LAKE_URL`` set, the user's own commands (``kimera
ingest``, ``kimera features``, ``kimera sql``, each a process of its own through the console script)
write and read Parquet files on an S3-compatible server (moto's), and the marts equal those the
local warehouse builds from the same hours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from kimera.config import load_config
from kimera.schema import EXCHANGE_OHLCV
from pipelines.lake.store import open_lake, partition_path
from tests.conftest import REPO_ROOT
from tests.pipelines.features.conftest import dbt_manifest  # noqa: F401  (the code location needs it)
from tests.support.local_marts import build_local_marts
from tests.support.servers import s3_server  # noqa: F401  (fixture)

START = datetime(2026, 1, 1)
KIMERA = str(Path(sys.executable).parent / "kimera")  # the console script
READS = 3  # kimera sql processes while the writer runs (more would only slow it on 2 cores)
HOURLY = "SELECT date_trunc('hour', open_time) AS hour, count(*) AS n FROM raw.exchange_ohlcv GROUP BY hour"


def _moment(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M}"


def _env(home: Path, lake_url: str, endpoint_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OMP_NUM_THREADS": "1",
        "KIMERA_HOME": str(home),
        "KIMERA_CONFIG": str(REPO_ROOT / "kimera.yaml"),
        "DAGSTER_HOME": str(home / "dagster"),
        "BENTOML_HOME": str(home / "bentoml"),
        "KIMERA_LAKE_URL": lake_url,
        "KIMERA_LAKE_ENDPOINT_URL": endpoint_url,
    }


def _kimera(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [KIMERA, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"kimera {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _hours_read(env: dict[str, str]) -> dict[str, int]:
    lines = _kimera(env, "sql", "--json", HOURLY).splitlines()
    return {row["hour"]: row["n"] for row in map(json.loads, filter(None, lines))}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # five commands, each a process importing Dagster, on a shared machine
def test_ingest_features_and_sql_run_on_the_lake_and_give_the_local_warehouse_marts(
    s3_server,  # noqa: F811
    dbt_manifest,  # noqa: F811
    tmp_path,
) -> None:
    lake_url = f"s3://{s3_server.bucket}/lake"
    env = _env(tmp_path / "home", lake_url, s3_server.endpoint_url)
    lake = open_lake(lake_url, endpoint_url=s3_server.endpoint_url)
    middle, end = START + timedelta(hours=3), START + timedelta(hours=6)

    ingested = _kimera(env, "ingest", "--from", _moment(START), "--to", _moment(middle))
    assert "Next: kimera features --from '2026-01-01 00:00' --to '2026-01-01 03:00'" in ingested
    first_files = {key: lake.fs.cat(key) for key in lake.fs.find(f"{s3_server.bucket}/lake/raw")}
    assert lake.fs.exists(partition_path(lake, EXCHANGE_OHLCV, START + timedelta(hours=2)))
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()  # nothing went to a local warehouse

    # a second process appends the next hours while `kimera sql` processes read the lake
    writer = subprocess.Popen(
        [KIMERA, "ingest", "--from", _moment(middle), "--to", _moment(end)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    reads: list[dict[str, int]] = []
    try:
        while writer.poll() is None and len(reads) < READS:
            reads.append(_hours_read(env))  # never a lock error, never half an hour
        output = writer.communicate(timeout=900)[0]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=60)
    assert writer.returncode == 0, output[-3000:]
    reads.append(_hours_read(env))
    final = reads[-1]
    assert len(final) == 6
    assert all(n == final[hour] for read in reads for hour, n in read.items())  # every hour seen whole
    # the first window's files were left byte for byte as they were: idempotence holds per file
    assert {key: lake.fs.cat(key) for key in first_files} == first_files

    built = _kimera(env, "features")  # the window defaults to the lake's candles: all six hours
    assert "bars closing 2026-01-01 01:00 to 2026-01-01 06:00" in built, built
    assert "in the lake s3://kimera/lake/marts" in built and "raw checks passed" in built
    marts = _kimera(env, "sql", "--json", "SELECT count(*) AS n FROM marts.features")
    assert json.loads(marts.splitlines()[0]) == {"n": 6 * 2}  # kimera sql reads the lake's marts

    # the same hours on a local warehouse, built by dbt from scratch
    config = load_config(REPO_ROOT / "kimera.yaml")
    local = build_local_marts(tmp_path / "local", REPO_ROOT / "kimera.yaml", START, end)
    with duckdb.connect(str(local.warehouse_path), read_only=True) as warehouse, duckdb.connect() as reader:
        reader.register_filesystem(lake.fs)
        for mart in ("features", "labels"):
            files = lake.path("marts", mart, "*", "*.parquet")
            from_lake = reader.sql(f"SELECT * FROM read_parquet('{files}') ORDER BY asset, bar_time").df()
            here = warehouse.sql(f"SELECT * FROM marts.{mart} ORDER BY asset, bar_time").df()
            assert len(here) == len(config.assets) * 6, mart
            # equal to the last bits: sums over rows read from several files may add in another order
            pd.testing.assert_frame_equal(from_lake[here.columns], here, check_exact=False, rtol=1e-9)
