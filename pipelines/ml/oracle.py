"""The simulator's Bayes-optimal oracle beside the models' scores (evaluation only, never a feature).

When the data is the simulator's (``exchange.source`` and ``chain.source`` are ``sim``), it knows
the planted signal and so the best possible directional call per bar. Each model's walk-forward
hit rate is set against that oracle's on the same test bars: ``ml.oracle_scores`` holds, per model,
the Bayes-optimal accuracy A* on those bars, the oracle's realised hit rate and the recovery ratio
(the model's edge over a coin as a share of the oracle's), realised and expected (the model's calls
scored with the oracle's probability of being right: no label noise). Real data has no oracle: nothing is written.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from kimera.config import KimeraConfig
from kimera.schema.ml import ORACLE_SCORES_DDL

COLUMNS = (
    "bars", "hit", "hit_std", "oracle_hit", "bayes_accuracy", "agreement", "recovery", "recovery_se",
    "expected_hit", "expected_recovery",
)  # fmt: skip


def has_oracle(config: KimeraConfig) -> bool:
    """True when prices and chain flows both come from the simulator, whose planted signal is known."""
    return config.exchange.source == "sim" and config.chain.source == "sim"


def oracle_truth(config: KimeraConfig, start: datetime, end: datetime) -> pd.DataFrame:
    """Per (asset, bar_time) in ``[start, end)``: the oracle's call ``oracle_up`` (1 up, 0 down) and
    ``bayes_p_correct``, the probability that call is right (its mean is A*)."""
    from connect.sim import simulator_from_config

    planted = simulator_from_config(config).planted_signal(start, end).to_pandas()
    truth = planted[["asset", "bar_time"]].copy()
    truth["bar_time"] = truth["bar_time"].astype("datetime64[us]")
    truth["oracle_up"] = (planted["p_up"] > 0.5).astype(float)
    truth["bayes_p_correct"] = np.maximum(planted["p_up"], 1 - planted["p_up"])
    return truth


def oracle_scores(predictions: pd.DataFrame, truth: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """One row per model of ``models`` found in ``predictions``: :data:`COLUMNS` on its test bars."""
    from models.evaluation import against_oracle

    rows = []
    for model in models:
        if (predictions["model"] == model).any():
            rows.append({"model": model, **against_oracle(predictions, truth, model)})
    return pd.DataFrame(rows, columns=["model", *COLUMNS])


def write_oracle_scores(
    con,
    scores: pd.DataFrame,
    *,
    training_end: datetime,
    horizon: int,
    signal_strength: float,
    created_at: datetime,
) -> int:
    """Replace the rows of (``training_end``, ``horizon``) with ``scores``, in one transaction."""
    con.execute("CREATE SCHEMA IF NOT EXISTS ml")
    con.execute(ORACLE_SCORES_DDL)
    frame = scores.assign(
        training_end=training_end, horizon=horizon, signal_strength=signal_strength, created_at=created_at
    )[["training_end", "horizon", "model", *COLUMNS, "signal_strength", "created_at"]]
    con.execute("BEGIN")
    try:
        con.execute(
            "DELETE FROM ml.oracle_scores WHERE training_end = ? AND horizon = ?", [training_end, horizon]
        )
        con.register("oracle_rows", frame)
        con.execute("INSERT INTO ml.oracle_scores SELECT * FROM oracle_rows")
        con.unregister("oracle_rows")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(frame)


def format_oracle(scores: pd.DataFrame, order: list[str]) -> str:
    """A markdown table: each model's hit rate beside the oracle's and A* on the same bars, and recovery."""
    lines = [
        "| model | hit rate | oracle hit rate | Bayes A* | recovery (realised) | recovery (calls, expected) |",
        "|---|---|---|---|---|---|",
    ]
    rows = scores.set_index("model")
    for name in [m for m in order if m in rows.index]:
        r = rows.loc[name]
        lines.append(
            f"| {name} | {r['hit']:.4f} | {r['oracle_hit']:.4f} | {r['bayes_accuracy']:.4f} | "
            f"{r['recovery']:.2f} ± {r['recovery_se']:.2f} | {r['expected_recovery']:.2f} |"
        )
    return "\n".join(lines)
