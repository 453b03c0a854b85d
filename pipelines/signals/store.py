"""``ml.predictions`` (what the served model said, per asset and bar) and ``ml.signal_pushes``.

A prediction is keyed by (model_tag, asset, feature_time, horizon): a re-run never duplicates one
and keeps the first prediction_id, so a signal pushed twice carries the same id (the execution
service is idempotent by it). ``ml.signal_pushes`` journals each push: a 'sending' row before the
call, the answer after it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from kimera.schema.ml import PREDICTIONS_DDL
from kimera.schema.ml import SIGNAL_PUSHES_DDL as PUSHES_DDL

PREDICTION_COLUMNS = [
    "prediction_id", "model_tag", "asset", "feature_time", "horizon", "forecast", "lower", "upper", "p_up", "created_at",
]  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_signals_schema(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ml")
    con.execute(PREDICTIONS_DDL)
    con.execute(PUSHES_DDL)


def table_exists(con, table: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ml' AND table_name = ?", [table]
    ).fetchall()[0][0]
    return bool(found)


def last_predicted(con, model_tag: str, horizon: int) -> dict[str, datetime]:
    """The newest feature_time predicted by ``model_tag`` per asset."""
    if not table_exists(con, "predictions"):
        return {}
    rows = con.execute(
        "SELECT asset, max(feature_time) FROM ml.predictions WHERE model_tag = ? AND horizon = ? GROUP BY asset",
        [model_tag, horizon],
    ).fetchall()
    return {str(a): t for a, t in rows}


def write_predictions(con, rows: pd.DataFrame) -> int:
    """Insert predictions not stored yet (one transaction); return how many were new."""
    ensure_signals_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        before = con.execute("SELECT count(*) FROM ml.predictions").fetchall()[0][0]
        con.register("_incoming", rows[PREDICTION_COLUMNS])
        con.execute("INSERT INTO ml.predictions BY NAME SELECT * FROM _incoming ON CONFLICT DO NOTHING")
        after = con.execute("SELECT count(*) FROM ml.predictions").fetchall()[0][0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_incoming")
    return int(after - before)


def newest_model_tag(con) -> str | None:
    """The model of the most recent predictions (the one being served)."""
    if not table_exists(con, "predictions"):
        return None
    row = next(
        iter(con.execute("SELECT model_tag FROM ml.predictions ORDER BY created_at DESC LIMIT 1").fetchall()),
        None,
    )
    return row[0] if row else None


def unpushed_newest(con, model_tag: str) -> pd.DataFrame:
    """Per asset, the newest prediction of ``model_tag`` unless it was already delivered."""
    return unpushed(con, model_tag, newest_only=True)


def unpushed(con, model_tag: str, newest_only: bool = False) -> pd.DataFrame:
    """Predictions of ``model_tag`` not delivered yet: oldest first, or only each asset's newest
    (by asset) when ``newest_only``."""
    ensure_signals_schema(con)
    newest = """
          AND p.feature_time = (SELECT max(feature_time) FROM ml.predictions q
                                WHERE q.model_tag = p.model_tag AND q.asset = p.asset AND q.horizon = p.horizon)"""
    return con.execute(
        f"""
        SELECT p.* FROM ml.predictions p
        LEFT JOIN ml.signal_pushes s ON s.prediction_id = p.prediction_id AND s.status IN ('accepted', 'rejected')
        WHERE p.model_tag = ? AND s.prediction_id IS NULL{newest if newest_only else ""}
        ORDER BY {"p.asset" if newest_only else "p.feature_time, p.asset"}
        """,
        [model_tag],
    ).df()


def journal_push(con, prediction_id: str, url: str, status: str, http_status: int | None = None,
                 detail: str | None = None) -> None:  # fmt: skip
    """Record the push of a prediction: 'sending' before the call; accepted/rejected/failed after."""
    ensure_signals_schema(con)
    answered = None if status == "sending" else now()
    con.execute(
        """
        INSERT INTO ml.signal_pushes VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (prediction_id) DO UPDATE SET status = excluded.status, http_status = excluded.http_status,
          detail = excluded.detail, url = excluded.url, answered_at = excluded.answered_at,
          sent_at = CASE WHEN excluded.status = 'sending' THEN excluded.sent_at ELSE ml.signal_pushes.sent_at END
        """,
        [prediction_id, prediction_id, url, status, http_status, detail, now(), answered],
    )
