"""The promotion gate: a candidate replaces the served model only if it beats it out of sample.

Both models are scored on the same bars, which neither saw in training: labelled bars from
``horizon`` bars after the later of the two training windows (so no label of either training set
overlaps them). The criterion is the log loss of P(up), a proper scoring rule that uses the whole
probabilistic forecast and is far less noisy on a few days of bars than a Sharpe ratio. The
comparison is paired, bar by bar: the candidate wins only if its mean log loss is lower by more
than ``min_improvement`` and by more than ``z`` standard errors of the paired difference. A tie
keeps the served model. Accuracy, IC and the strategy's Sharpe of both are recorded beside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from kimera.config import PromotionConfig
from kimera.schema.ml import PROMOTION_FIGURES
from models.base import Model
from models.windows import Windows

_EPS = 1e-6
FIGURES = PROMOTION_FIGURES  # columns of ml.promotions (kimera.schema.ml)


@dataclass(frozen=True)
class Decision:
    """What the gate decided about a candidate, and the figures it decided on."""

    candidate_tag: str
    incumbent_tag: str | None
    promoted: bool
    reason: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    bars: int = 0
    improvement: float | None = None  # mean log loss of the incumbent minus the candidate's (nats/bar)
    improvement_se: float | None = None
    candidate: dict[str, float] = field(default_factory=dict)
    incumbent: dict[str, float] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return "promoted" if self.promoted else "kept"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decision": self.decision}


def oos_start(data_ends: list[datetime], horizon: int, bar: timedelta) -> datetime:
    """First bar out of sample for models trained on data ending at ``data_ends``.

    A training label of bar t covers t..t+h, so bars from ``max(end) + h bars`` share no return
    with any training label.
    """
    return max(data_ends) + horizon * bar


def first_model(candidate_tag: str) -> Decision:
    return Decision(candidate_tag, None, True, "no model was promoted yet")


def not_comparable(candidate_tag: str, incumbent_tag: str, why: str) -> Decision:
    """The served model forecasts something else (another horizon, other assets): the config changed."""
    return Decision(candidate_tag, incumbent_tag, True, f"the served model is not comparable: {why}")


def per_bar_log_loss(p_up: np.ndarray, fwd_ret: np.ndarray) -> np.ndarray:
    up = (fwd_ret > 0).astype(np.float64)
    p = np.clip(p_up, _EPS, 1 - _EPS)
    return -(up * np.log(p) + (1 - up) * np.log(1 - p))


def common_bars(a: Windows, b: Windows) -> tuple[Windows, Windows]:
    """The labelled windows of ``a`` and ``b`` ending at the same (asset, bar_time), in the same order."""

    def keyed(w: Windows) -> dict[tuple[str, Any], int]:
        return {
            (str(s), t): i for i, (s, t) in enumerate(zip(w.asset, w.bar_time, strict=True)) if w.labelled[i]
        }

    ka, kb = keyed(a), keyed(b)
    keys = sorted(ka.keys() & kb.keys())
    return a.take(np.array([ka[k] for k in keys], dtype=np.int64)), b.take(
        np.array([kb[k] for k in keys], dtype=np.int64)
    )


def compare(
    candidate: tuple[str, Model, Windows],
    incumbent: tuple[str, Model, Windows],
    rule: PromotionConfig,
    *,
    fee_bps: float,
    bar_hours: float = 1.0,
) -> Decision:
    """Score both models on the bars both windows share and decide by the rule.

    Each entry is (tag, model, windows in that model's features and sequence length); the windows
    must already be out of sample for both (see :func:`oos_start`). Fewer than ``rule.min_bars``
    labelled bars of some asset means no decision can be made yet: ValueError says how many.
    """
    from models.evaluation import score_model

    (c_tag, c_model, c_windows), (i_tag, i_model, i_windows) = candidate, incumbent
    c_win, i_win = common_bars(c_windows, i_windows)
    per_asset = {
        str(a): int(n) for a, n in zip(*np.unique(c_win.asset.astype(str), return_counts=True), strict=True)
    }
    short = {a: n for a, n in per_asset.items() if n < rule.min_bars}
    if not per_asset or short:
        raise NotEnoughBars(
            f"{c_tag} vs {i_tag}: need {rule.min_bars} labelled bars per asset out of sample for both, "
            f"have {per_asset or 'none'}"
        )
    c_fc, i_fc = c_model.predict_windows(c_win), i_model.predict_windows(i_win)
    diff = per_bar_log_loss(i_fc.p_up, i_win.fwd_ret) - per_bar_log_loss(c_fc.p_up, c_win.fwd_ret)
    n = len(diff)
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    bar = float(max(rule.min_improvement, rule.z * se))
    promoted = mean > bar
    verdict = "beats" if promoted else "does not beat"
    reason = (
        f"candidate {verdict} the served model: log loss lower by {mean:.5f} ± {se:.5f} nats/bar "
        f"on {n} bars; needed more than {bar:.5f}"
    )

    def figures(model: Model, windows: Windows) -> dict[str, float]:
        scores = score_model(model, windows, windows.horizon, fee_bps, bar_hours=bar_hours)
        return {k: float(scores[k]) for k in FIGURES}

    times = c_win.bar_time
    return Decision(
        c_tag,
        i_tag,
        promoted,
        reason,
        window_start=_naive(times.min()),
        window_end=_naive(times.max()),
        bars=n,
        improvement=mean,
        improvement_se=se,
        candidate=figures(c_model, c_win),
        incumbent=figures(i_model, i_win),
    )


class NotEnoughBars(ValueError):
    """Too few bars out of sample for both models: the decision waits for more data."""


def _naive(value: np.datetime64) -> datetime:
    return value.astype("datetime64[us]").astype(datetime)
