"""Features and models from whatever sources a user has: candles only, + trades, + books, everything.

Each case starts from the simulated warehouse with the raw tables the user does not have removed
(as after `kimera import` of candles), runs the Dagster features job as `kimera features` does, and
trains a walk-forward member on the result. The families whose inputs exist are built; the others'
columns are NULL, named in the marts/features metadata, and left out of training by name.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from dagster import AssetKey

from kimera.schema import RAW_TABLES
from models.marts import read_marts
from models.walk_forward import evaluation_folds, run_member
from models.windows import make_windows
from pipelines.features.families import FAMILIES
from tests.models.conftest import small_config

CANDLES = ("exchange_ohlcv",)
SUBSETS = {
    "candles": (CANDLES, {"technical", "cross_venue"}),
    "candles+trades": ((*CANDLES, "exchange_trades"), {"technical", "cross_venue", "microstructure_trades"}),
    "candles+trades+books": (
        (*CANDLES, "exchange_trades", "order_book_snapshots"),
        {"technical", "cross_venue", "microstructure_trades", "microstructure_books"},
    ),
    "everything": (tuple(RAW_TABLES), {f.name for f in FAMILIES}),
}


@pytest.mark.slow
@pytest.mark.parametrize("subset", list(SUBSETS))
def test_features_and_a_model_from_a_subset_of_sources(subset, home, sim_window, run_features, instance):
    kept, families = SUBSETS[subset]
    with duckdb.connect(str(home.warehouse_path)) as con:
        for table in RAW_TABLES:
            if table not in kept:
                con.execute(f"DROP TABLE raw.{table}")

    outcome = run_features(*sim_window)
    assert outcome.success, outcome.error

    event = instance.get_latest_materialization_event(AssetKey(["marts", "features"]))
    metadata = event.asset_materialization.metadata
    assert set(metadata["families_built"].value) == families
    assert set(metadata["families_null"].value) == {f.name for f in FAMILIES} - families
    assert "| technical | exchange_ohlcv | yes |" in metadata["feature_families"].value

    null_columns = {c for f in FAMILIES if f.name not in families for c in f.columns}
    with duckdb.connect(str(home.warehouse_path), read_only=True) as con:
        for column in null_columns:
            assert con.execute(f"select count({column}) from marts.features").fetchone()[0] == 0, column
        marts = read_marts(con, horizon=1)
    assert null_columns <= set(marts.dropped_features)
    assert not null_columns & set(marts.feature_names)
    assert {"ret_1", "rsi", "macd_rel"} <= set(marts.feature_names)

    cfg = small_config(seq_len=8, train_bars=100, val_bars=30, test_bars=30, max_windows=1, seeds=[0])
    windows = make_windows(marts, cfg.seq_len)
    run = run_member("linear", windows, evaluation_folds(windows, cfg), cfg)
    test_rows = run.predictions[run.predictions["part"] == "test"]
    assert len(test_rows) > 0 and np.isfinite(test_rows["forecast"]).all()
