"""When to retrain: enough new data since the newest model was trained, or live error drift.

Live error is the log loss of P(up) of the served model's stored predictions (``ml.predictions``)
whose labels have since been realised (``marts.labels``), over the newest ``drift_bars`` of them,
against the log loss the model had in its walk-forward test windows (its metadata). A model that
does measurably worse live than in its evaluation has met a market it was not trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from kimera.config import KimeraConfig
from kimera.settings import Settings


@dataclass
class RetrainCheck:
    served: str | None
    new_bars: dict[str, int] = field(default_factory=dict)
    live_log_loss: float | None = None
    expected_log_loss: float | None = None
    live_bars: int = 0
    reasons: list[str] = field(default_factory=list)
    partition: str | None = None  # the training partition a retrain would use
    notes: list[str] = field(default_factory=list)

    @property
    def trigger(self) -> str:
        return "+".join(r.split(":")[0] for r in self.reasons) or "none"

    def summary(self) -> str:
        return "; ".join(self.reasons or self.notes) or "nothing to do"


def latest_partition(con, config: KimeraConfig, now: datetime | None = None) -> str | None:
    """The newest daily training partition that holds the newest bar and whose day has ended."""
    newest = con.execute("SELECT max(bar_time) FROM marts.features").fetchall()[0][0]
    if newest is None:
        return None
    day = (newest - timedelta(microseconds=1)).date()  # a bar closing at midnight belongs to the day before
    today = (now or datetime.now(UTC).replace(tzinfo=None)).date()
    day = min(day, today - timedelta(days=1))
    return day.isoformat() if day >= config.start else None


def live_error(con, model_tag: str, horizon: int, bars: int) -> tuple[float | None, int]:
    """Log loss of the newest ``bars`` realised predictions of ``model_tag``, and how many there were."""
    from pipelines.signals.store import table_exists

    if not table_exists(con, "predictions"):
        return None, 0
    rows = con.execute(
        f"""
        SELECT p.p_up, l.fwd_ret_{horizon} AS fwd_ret FROM ml.predictions p
        JOIN marts.labels l ON l.asset = p.asset AND l.bar_time = p.feature_time
        WHERE p.model_tag = ? AND p.horizon = ? AND l.fwd_ret_{horizon} IS NOT NULL
        ORDER BY p.feature_time DESC LIMIT ?
        """,
        [model_tag, horizon, bars],
    ).fetchnumpy()
    n = len(rows["p_up"])
    if n < bars:
        return None, n
    from models.promotion import per_bar_log_loss

    return float(np.mean(per_bar_log_loss(rows["p_up"], rows["fwd_ret"]))), n


def retrain_check(con, settings: Settings, config: KimeraConfig, now: datetime | None = None) -> RetrainCheck:
    """Whether a retrain is due, why, and for which partition (reads only)."""
    from models.promoted import read_promoted
    from models.registry import RegistryError, get_model, list_models
    from pipelines.serving.gate import data_end

    retrain = config.serving.retrain
    horizon = config.models.horizon
    promoted = read_promoted(settings)
    check = RetrainCheck(served=promoted.tag if promoted else None)
    check.partition = latest_partition(con, config, now)
    if promoted is None:
        check.notes.append("nothing is served yet: train a first model (the daily schedule, or kimera demo)")
        return check
    try:
        stored = get_model(promoted.tag, settings)
    except RegistryError:
        check.reasons.append(f"missing: the served model {promoted.tag} is not in the model store")
        return check
    trained = [
        m for m in list_models(config.serving.model, settings) if m.labels.get("horizon") == str(horizon)
    ]
    # new data counts from the newest model trained, promoted or not: a waiting candidate has seen it
    end = max([data_end(stored), *(data_end(m) for m in trained)])
    counted = {
        str(a): int(n)
        for a, n in con.execute(
            f"SELECT asset, count(*) FROM marts.labels WHERE bar_time >= ? AND fwd_ret_{horizon} IS NOT NULL "
            "GROUP BY asset",
            [end],
        ).fetchall()
    }
    # every asset the model serves counts, one with no new bar as 0
    check.new_bars = {a: counted.get(a, 0) for a in stored.metadata.get("assets", sorted(counted))}
    if check.new_bars and min(check.new_bars.values()) >= retrain.min_new_bars:
        check.reasons.append(
            f"new_data: {min(check.new_bars.values())} labelled bars per asset since {end} "
            f"(serving.retrain.min_new_bars = {retrain.min_new_bars})"
        )
    else:
        check.notes.append(
            f"{check.new_bars or 'no'} new labelled bars per asset, a retrain needs {retrain.min_new_bars}"
        )
    check.live_log_loss, check.live_bars = live_error(con, promoted.tag, horizon, retrain.drift_bars)
    expected = (stored.metadata.get("metrics") or {}).get("log_loss")
    check.expected_log_loss = float(expected) if expected is not None else None
    if check.live_log_loss is None or check.expected_log_loss is None:
        check.notes.append(f"{check.live_bars} realised live predictions, drift needs {retrain.drift_bars}")
    elif check.live_log_loss - check.expected_log_loss > retrain.max_log_loss_increase:
        check.reasons.append(
            f"drift: live log loss {check.live_log_loss:.4f} over {check.live_bars} bars vs "
            f"{check.expected_log_loss:.4f} walk-forward (more than +{retrain.max_log_loss_increase})"
        )
    else:
        check.notes.append(
            f"live log loss {check.live_log_loss:.4f} vs {check.expected_log_loss:.4f} walk-forward: no drift"
        )
    if check.reasons and check.partition is None:
        check.notes.append("a retrain is due but no training partition has ended yet")
        check.reasons.clear()
    return check
