"""`kimera demo` builds marts.features and marts.labels: the features stage after ingest, as the user runs it."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

from kimera.app.cli import main


@pytest.mark.slow
def test_the_demo_builds_features_and_labels_for_every_bar_and_records_the_partitions(
    dbt_manifest, kimera_home
) -> None:
    result = CliRunner().invoke(main, ["demo", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "features: marts.features 48 rows (2 assets" in result.output
    assert "raw checks passed" in result.output
    with duckdb.connect(str(kimera_home.warehouse_path), read_only=True) as con:
        bars = con.execute(
            "select asset, count(*) from marts.features group by asset order by asset"
        ).fetchall()
        labels = con.execute("select count(*), count(fwd_ret_1) from marts.labels").fetchall()[0]
    assert bars == [("BTC", 24), ("ETH", 24)]
    assert labels == (48, 46)  # the newest bar of each asset has no next bar yet
    # dbt printed nothing on the terminal: its log is in KIMERA_HOME
    assert (kimera_home.home_dir / "dbt" / "logs" / "dbt.log").stat().st_size > 0
    assert "Running with dbt" not in result.output
    with DagsterInstance.get() as instance:
        assert len(instance.get_materialized_partitions(AssetKey(["marts", "features"]))) == 24
