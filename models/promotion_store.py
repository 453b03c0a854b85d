"""``ml.promotions``: every decision of the promotion gate, with the figures it was made on.

One row per decision (promoted or kept), never updated. The served model is the candidate of the
newest 'promoted' row, and the pointer file (``models.promoted``) says the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kimera.config import PromotionConfig
from kimera.schema.ml import PROMOTIONS_DDL
from models.promotion import FIGURES, Decision


def ensure_promotions(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ml")
    con.execute(PROMOTIONS_DDL)


def write_decision(
    con, promotion_id: str, decision: Decision, *, candidate_data_end: datetime, horizon: int,
    rule: PromotionConfig, code_version: str,
) -> None:  # fmt: skip
    """Append the decision (one transaction)."""
    ensure_promotions(con)
    row = {
        "promotion_id": promotion_id,
        "decided_at": datetime.now(UTC).replace(tzinfo=None),
        "candidate_tag": decision.candidate_tag,
        "candidate_data_end": candidate_data_end,
        "incumbent_tag": decision.incumbent_tag,
        "decision": decision.decision,
        "reason": decision.reason,
        "horizon": horizon,
        "window_start": decision.window_start,
        "window_end": decision.window_end,
        "bars": decision.bars,
        "improvement": decision.improvement,
        "improvement_se": decision.improvement_se,
        **{f"candidate_{f}": decision.candidate.get(f) for f in FIGURES},
        **{f"incumbent_{f}": decision.incumbent.get(f) for f in FIGURES},
        "min_improvement": rule.min_improvement,
        "z": rule.z,
        "min_bars": rule.min_bars,
        "code_version": code_version,
    }
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO ml.promotions ({columns}) VALUES ({marks})", list(row.values()))


def has_promotions(con) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ml' AND table_name = 'promotions'"
    ).fetchall()[0][0]
    return bool(found)


def last_decided_data_end(con, horizon: int) -> datetime | None:
    """The newest training-data end of any candidate decided on: older candidates are superseded."""
    if not has_promotions(con):
        return None
    return con.execute(
        "SELECT max(candidate_data_end) FROM ml.promotions WHERE horizon = ?", [horizon]
    ).fetchall()[0][0]
