"""The ``ml`` schema of the warehouse: evaluations and walk-forward test predictions.

Each write replaces the rows of one data window (``training_end``, ``horizon``) in one transaction,
so a re-run leaves the same rows and a failure leaves the previous ones.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from kimera.schema.ml import EVALUATIONS_DDL
from kimera.schema.ml import WALK_FORWARD_PREDICTIONS_DDL as PREDICTIONS_DDL

_KEY_TYPES = {"training_end": "TIMESTAMP", "horizon": "INTEGER"}


def ensure_ml_schema(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ml")
    con.execute(EVALUATIONS_DDL)
    con.execute(PREDICTIONS_DDL)


def _replace(con, table: str, rows: pd.DataFrame, training_end: datetime, horizon: int) -> int:
    ensure_ml_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_incoming", rows)
        con.execute(f"DELETE FROM {table} WHERE training_end = ? AND horizon = ?", [training_end, horizon])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_incoming")
    return len(rows)


def write_evaluations(
    con, evaluations: pd.DataFrame, *, run_id: str, training_end: datetime, horizon: int, fee_bps: float,
    code_version: str, folds: dict[int, tuple],
) -> int:  # fmt: skip
    """Replace the evaluations of (training_end, horizon) with ``evaluations``; return the row count.

    ``folds`` maps a window number to its (train_start, train_end) bar times.
    """
    rows = evaluations.copy()
    rows["run_id"] = run_id
    rows["training_end"] = pd.Timestamp(training_end)
    rows["horizon"] = horizon
    rows["train_start"] = [pd.Timestamp(folds[w][0]) for w in rows["window"]]
    rows["train_end"] = [pd.Timestamp(folds[w][1]) for w in rows["window"]]
    rows["fee_bps"] = fee_bps
    rows["code_version"] = code_version
    rows["created_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    return _replace(con, "ml.evaluations", rows, training_end, horizon)


def write_predictions(con, predictions: pd.DataFrame, *, training_end: datetime, horizon: int) -> int:
    """Replace the stored walk-forward test predictions of (training_end, horizon)."""
    rows = predictions[predictions["part"] == "test"].drop(columns="part").copy()
    rows["training_end"] = pd.Timestamp(training_end)
    rows["horizon"] = horizon
    return _replace(con, "ml.walk_forward_predictions", rows, training_end, horizon)
