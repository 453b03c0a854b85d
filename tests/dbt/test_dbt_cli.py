"""dbt in this process: a new window costs no re-parse, and the warehouse is free once dbt is done."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars
from tests.dbt.conftest import copy_home

REPARSE = "Unable to do partial parsing"


def test_a_new_window_runs_on_the_parsed_project_without_a_re_parse(
    built_home, sim_config, sim_window, tmp_path
):
    home = copy_home(built_home, tmp_path / "home")
    _, end = sim_window
    select = ["run", "--select", "int_bars_consolidated"]
    first = run_dbt(select, home=home, dbt_vars=dbt_vars(sim_config, (end - timedelta(hours=1), end)))
    later = run_dbt(select, home=home, dbt_vars=dbt_vars(sim_config, (end - timedelta(hours=2), end)))
    assert set(first.statuses().values()) == set(later.statuses().values()) == {"success"}
    # the second window reached the model (its SQL names it), and dbt did not parse the project again
    compiled = (home / "dbt" / "target" / "run" / "kimera" / "models" / "intermediate").glob("*.sql")
    assert any(
        (end - timedelta(hours=2 + sim_config.features.lookback_bars)).isoformat(sep=" ") in p.read_text()
        for p in compiled
    )
    assert REPARSE not in later.output
    # a change of a var the models read while parsing does re-parse, as dbt must
    changed = run_dbt(select, home=home, dbt_vars={**dbt_vars(sim_config), "book_levels": 5})
    assert REPARSE in changed.output


def test_the_warehouse_is_free_for_another_process_once_dbt_is_done(built_home, sim_config, tmp_path):
    home = copy_home(built_home, tmp_path / "home")
    run_dbt(["run", "--select", "int_bars_consolidated"], home=home, dbt_vars=dbt_vars(sim_config))
    write = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "print(con.execute('select count(*) from intermediate.int_bars_consolidated').fetchone()[0])"
    )
    other = subprocess.run(
        [sys.executable, "-c", write, str(home / "warehouse.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr
    assert int(other.stdout) > 0
