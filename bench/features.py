"""Features benchmark: a full dbt rebuild of the demo data, and an incremental update of the newest bar.

Data: the simulator's demo window (``demo_days`` of the config, 2 assets, 3 venues; ``quick``: 10
days), written straight into a temporary warehouse. Measures, each beside a baseline of the same run:

* ``features full rebuild``: ``dbt build --full-refresh`` (models and data tests, as Dagster runs
  it), against DuckDB reading and aggregating the same raw rows once (the floor of any rebuild);
* ``features incremental update``: after the newest hour of raw data lands, ``dbt build`` over that
  hour's window (``lookback_bars`` of late data included), against dbt's own start-up (parsing the
  project and running nothing), the cost every dbt invocation pays;
* ``features incremental SQL``: the model and test execution time of that update (dbt's elapsed
  time, start-up excluded), against DuckDB aggregating the raw rows of its window.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from bench import Measure
from kimera.config import load_config
from kimera.schema import PARTITIONED_TABLES
from kimera.settings import get_settings
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars
from pipelines.features.sim_data import load_sim_reference, load_sim_window

FULL_GOAL_S = 30.0
INCREMENTAL_GOAL_S = 5.0


def _scan_floor(warehouse: Path, start, end) -> float:
    """DuckDB's time to read every partitioned raw row in [start, end) once, aggregated per hour."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        began = time.perf_counter()
        for table in PARTITIONED_TABLES:
            numeric = next(f.name for f in table.schema if f.type.equals(pa.float64()))
            col = f'"{table.time_column}"'
            con.execute(
                f"SELECT time_bucket(INTERVAL 1 HOUR, {col}) AS hour, count(*), sum({numeric}) "
                f"FROM {table.qualified} WHERE {col} >= ? AND {col} < ? GROUP BY hour",
                [start, end],
            ).fetchall()
        return time.perf_counter() - began


def _measure(name: str, value: float, baseline: str, baseline_value: float, goal_s: float | None) -> Measure:
    goal = f"<= {goal_s:g} s" if goal_s is not None else "reported"
    met = value <= goal_s if goal_s is not None else True
    return Measure(name, value, "s", baseline, baseline_value, value / baseline_value, goal, met)


def run(quick: bool = False) -> list[Measure]:
    config = load_config(settings=get_settings())
    days = 10 if quick else config.demo_days
    start = config.start_time
    end = start + timedelta(days=days)
    newest = end - timedelta(hours=1)
    with tempfile.TemporaryDirectory(prefix="kimera-bench-features-") as tmp:
        home = Path(tmp)
        warehouse = home / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as con:
            load_sim_reference(con, config)
            load_sim_window(con, config, start, newest)

        full = run_dbt(
            ["build", "--full-refresh", "--exclude-resource-type", "unit_test"],
            home=home,
            dbt_vars=dbt_vars(config),
        )
        floor = _scan_floor(warehouse, start, newest)

        with duckdb.connect(str(warehouse)) as con:
            load_sim_window(con, config, newest, end)
        window_vars = dbt_vars(config, (newest, end))
        incremental = run_dbt(
            ["build", "--exclude-resource-type", "unit_test"], home=home, dbt_vars=window_vars
        )
        # New vars make dbt re-parse, as every partition run does: the floor pays that too.
        probe_vars = {**window_vars, "bench_probe": 1}
        startup = run_dbt(["run", "--select", "config.tags:nothing"], home=home, dbt_vars=probe_vars)
        lookback = newest - timedelta(hours=config.features.lookback_bars)
        window_floor = _scan_floor(warehouse, lookback, end)

    label = f"{days} days x {len(config.assets)} assets x {len(config.sim.venues)} venues"
    return [
        _measure(
            f"features full rebuild ({label})",
            full.wall_s,
            "DuckDB scan+aggregate of the raw rows",
            floor,
            FULL_GOAL_S,
        ),
        _measure(
            "features incremental update (newest bar, dbt build)",
            incremental.wall_s,
            "dbt start-up (parse, run nothing)",
            startup.wall_s,
            INCREMENTAL_GOAL_S,
        ),
        _measure(
            "features incremental SQL (dbt node time)",
            incremental.elapsed_s,
            "DuckDB scan+aggregate of the window's raw rows",
            window_floor,
            None,
        ),
    ]
