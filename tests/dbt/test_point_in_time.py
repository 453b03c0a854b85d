"""Point in time: a feature row at bar_time uses only raw data with time < bar_time.

Two warehouses, built by dbt from the same raw data except that one has every partitioned raw table
truncated at time t: every feature row with bar_time <= t must be the same in both. A feature that
peeked past its close (a centred window, a forward fill from the future, a global mean) would
differ. The labels are the only forward-looking table, and they do differ.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from kimera.schema import PARTITIONED_TABLES
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars
from tests.dbt.compare import assert_same_rows, read_table
from tests.dbt.conftest import copy_home

KEYS = ["asset", "bar_time"]


@pytest.mark.slow
@pytest.mark.parametrize("cut_after", [timedelta(days=8, hours=5), timedelta(days=8, hours=5, minutes=37)])
def test_truncating_raw_data_after_t_leaves_features_up_to_t_unchanged(
    raw_home, built_home, sim_config, tmp_path, cut_after
):
    t = sim_config.start_time + cut_after
    home = copy_home(raw_home, tmp_path / "truncated")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        for table in PARTITIONED_TABLES:
            con.execute(f'delete from {table.qualified} where "{table.time_column}" >= ?', [t])
    run_dbt(["run"], home=home, dbt_vars=dbt_vars(sim_config))

    known = f"bar_time <= '{t.isoformat()}'"
    truncated = read_table(home, "marts.features", KEYS, known)
    full = read_table(built_home, "marts.features", KEYS, known)
    assert len(full) > 0
    assert_same_rows(truncated, full, KEYS, f"features up to t={t}")

    # Not vacuous: nothing after t is known to the truncated build, and some labels at or before t
    # looked past it (they are forward-looking by design).
    after = read_table(home, "marts.features", KEYS, f"bar_time > '{t.isoformat()}'")
    assert after.empty
    labels_cut = read_table(home, "marts.labels", KEYS, known)
    labels_full = read_table(built_home, "marts.labels", KEYS, known)
    assert labels_cut["fwd_ret_1"].isna().sum() > labels_full["fwd_ret_1"].isna().sum()
