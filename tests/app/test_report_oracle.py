"""The report's model table shows, on the simulator's data, each model's Bayes edge and recovery."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from kimera.app.report import build_report
from kimera.app.report.data import Warehouse
from kimera.settings import Settings
from models.store import ensure_ml_schema
from pipelines.ml.oracle import write_oracle_scores

END = datetime(2026, 3, 30)


def _evaluations(con, models: list[str]) -> None:
    ensure_ml_schema(con)
    for i, model in enumerate(models):
        con.execute(
            'INSERT INTO ml.evaluations (run_id, training_end, horizon, model, "window", seed, n, accuracy, '
            "sharpe, created_at) VALUES ('r', ?, 1, ?, 0, 0, 480, ?, 0.1, ?)",
            [END, model, 0.52 + i / 100, END],
        )


def _oracle(models: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": models, "bars": 480, "hit": [0.52, 0.53], "hit_std": 0.0, "oracle_hit": 0.5472,
            "bayes_accuracy": 0.5418, "agreement": 0.9, "recovery": [0.4237, 0.6356], "recovery_se": 0.15,
            "expected_hit": 0.54, "expected_recovery": [0.9234, 0.9567],
        }
    )  # fmt: skip


def test_the_model_table_shows_bayes_accuracy_and_recovery_beside_the_scores(kimera_home: Settings) -> None:
    models = ["ensemble", "linear"]
    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(kimera_home.warehouse_path)) as con:
        _evaluations(con, models)
        write_oracle_scores(
            con, _oracle(models), training_end=END, horizon=1, signal_strength=0.15, created_at=END
        )
        written = con.execute("SELECT model, recovery FROM ml.oracle_scores ORDER BY model").fetchall()
    assert written == [("ensemble", 0.4237), ("linear", 0.6356)]
    with Warehouse(kimera_home.warehouse_path) as wh:
        table = wh.evaluations().set_index("model")
    assert table.loc["linear", "recovery"] == 0.6356 and table.loc["ensemble", "bayes_a_star"] == 0.5418
    page = build_report(kimera_home).path.read_text()
    assert "bayes_a_star" in page and "0.6356" in page and "0.9567" in page
    assert "Bayes-optimal accuracy on the same test bars" in page


def test_without_an_oracle_the_model_table_has_no_recovery_column(kimera_home: Settings) -> None:
    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(kimera_home.warehouse_path)) as con:
        _evaluations(con, ["ensemble"])
    with Warehouse(kimera_home.warehouse_path) as wh:
        table = wh.evaluations()
    assert "recovery" not in table.columns
    assert "bayes_a_star" not in build_report(kimera_home).path.read_text()
