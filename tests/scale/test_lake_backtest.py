"""`kimera backtest` on the lake (``KIMERA_LAKE_URL``, moto's S3 server): the replay reads the lake's
raw files of the window and stores ``ml.backtest*`` in the lake's catalog, byte for byte the rows a
backtest of the same hours on the local warehouse stores (as the backtest promises for reruns)."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.settings import get_settings
from pipelines.lake.flow import catalog_path, ingest_reference_to_lake, ingest_window_to_lake
from pipelines.lake.store import open_lake
from tests.backtest.conftest import bt_config, bt_home, raw_warehouse  # noqa: F401  (fixtures)
from tests.support.servers import s3_server  # noqa: F401  (fixture)

TABLES = ("backtests", "backtest_orders", "backtest_fills", "backtest_equity")


def _backtest(*args: str) -> dict:
    result = CliRunner().invoke(main, ["backtest", *args, "--seed", "5", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _rows(database, run_id: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            t: con.execute(f"select * from ml.{t} where run_id = ? order by all", [run_id]).fetchall()
            for t in TABLES
        }


@pytest.mark.slow
def test_a_backtest_on_the_lake_stores_the_rows_of_the_local_one(
    s3_server,  # noqa: F811
    bt_home,  # noqa: F811
    bt_config,  # noqa: F811
    monkeypatch,
) -> None:
    start = bt_config.start_time
    end = start + timedelta(hours=12)
    window = ["--from", f"{start:%Y-%m-%d %H:%M}", "--to", f"{end:%Y-%m-%d %H:%M}",
              "--config", str(bt_home.home_dir / "kimera.yaml")]  # fmt: skip
    here = _backtest(*window)  # on the local warehouse
    local_rows = _rows(bt_home.warehouse_path, here["run_id"])
    assert here["orders"] > 5 and here["fills"] > 0

    # the same day in the lake (the bt_home warehouse holds it: the simulator's first day)
    lake_url = f"s3://{s3_server.bucket}/lake"
    lake = open_lake(lake_url, endpoint_url=s3_server.endpoint_url)
    ingest_reference_to_lake(lake, bt_config)
    ingest_window_to_lake(lake, bt_config, start, start + timedelta(days=1))
    monkeypatch.setenv("KIMERA_LAKE_URL", lake_url)
    monkeypatch.setenv("KIMERA_LAKE_ENDPOINT_URL", s3_server.endpoint_url)
    get_settings.cache_clear()
    on_lake = _backtest(*window)

    assert on_lake["run_id"] == here["run_id"]  # the same inputs (rows and their hashes), config, model, seed
    lake_rows = _rows(catalog_path(get_settings()), on_lake["run_id"])
    assert json.dumps(lake_rows, default=str) == json.dumps(local_rows, default=str)
    assert all(lake_rows[t] for t in TABLES)
