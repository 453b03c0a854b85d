"""Features benchmark: a full dbt rebuild of the demo data, and an incremental update of the newest bar.

Data: the simulator's demo window (``demo_days`` of the config, 2 assets, 3 venues; ``quick``: 10
days), written straight into a temporary warehouse. dbt runs the way the Dagster assets run it: in
this process, through :func:`pipelines.features.dbt_cli.run_dbt`. Measures, each beside a baseline of
the same run:

* ``features full rebuild``: ``dbt build --full-refresh`` (models and data tests, as Dagster runs
  it), against DuckDB reading and aggregating the same raw rows once (the floor of any rebuild);
* ``features incremental update``: after the newest hour of raw data lands, ``dbt build`` over that
  hour's window (``lookback_bars`` of late data included), in a process that has dbt loaded (as a
  Dagster run's process has once its step starts), against dbt's own fixed cost per command (the
  partial parse and running nothing);
* ``features incremental SQL``: the model and test execution time of that update (dbt's elapsed
  time, start-up excluded), against DuckDB aggregating the raw rows of its window;
* ``features incremental update, new process``: the same update in a fresh Python process, dbt's
  import included (what a ``dbt build`` from the shell pays), against Python importing dbt alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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


def _in_new_process(code: str) -> float:
    """Seconds a fresh Python process takes to run ``code`` (which prints its own timing last)."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


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
        before_update = home / "before-update.duckdb"
        shutil.copy2(warehouse, before_update)
        window_vars = dbt_vars(config, (newest, end))
        build = ["build", "--exclude-resource-type", "unit_test"]
        incremental = run_dbt(build, home=home, dbt_vars=window_vars)
        startup = run_dbt(["run", "--select", "config.tags:nothing"], home=home, dbt_vars=window_vars)
        lookback = newest - timedelta(hours=config.features.lookback_bars)
        window_floor = _scan_floor(warehouse, lookback, end)

        # The same update again, from the same state, in a new process.
        shutil.copy2(before_update, warehouse)
        cold = _in_new_process(
            "import time; t = time.perf_counter()\n"
            "from pathlib import Path\n"
            "from pipelines.features.dbt_cli import run_dbt\n"
            f"run_dbt({build!r}, home=Path({str(home)!r}), dbt_vars={json.dumps(window_vars)})\n"
            "print(time.perf_counter() - t)"
        )
        imports = _in_new_process(
            "import time; t = time.perf_counter(); import dbt.cli.main, dbt.adapters.duckdb; "
            "print(time.perf_counter() - t)"
        )

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
            "dbt fixed cost per command (partial parse, run nothing)",
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
        _measure(
            "features incremental update, new process (dbt import included)",
            cold,
            "Python importing dbt",
            imports,
            None,
        ),
    ]
