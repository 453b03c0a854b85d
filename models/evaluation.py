"""Scores of walk-forward test predictions: one row per (model, window, seed), and a summary.

Only 'test' rows are scored (out of sample, after the purge). The summary pools each model's test
windows per seed, then gives the mean and standard deviation over seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kimera.schema.ml import EVALUATION_METRICS
from models.metrics import forecast_metrics
from models.strategy import backtest

METRICS = EVALUATION_METRICS  # the columns of ml.evaluations (kimera.schema.ml)


def score(rows: pd.DataFrame, horizon: int, fee_bps: float, bar_hours: float) -> dict[str, float]:
    """Forecast metrics and the strategy's backtest of one model's test rows."""
    labelled = rows[rows["fwd_ret"].notna()]
    scores = forecast_metrics(
        *(labelled[c].to_numpy(np.float64) for c in ("forecast", "lower", "upper", "p_up", "fwd_ret"))
    )
    bt = backtest(labelled, horizon, fee_bps, bar_hours)
    scores.update(
        sharpe=bt.sharpe,
        sharpe_se=bt.sharpe_se,
        max_drawdown=bt.max_drawdown,
        win_rate=bt.win_rate,
        turnover=bt.turnover,
        total_return=bt.total_return,
        exposure=bt.exposure,
    )
    return scores


def evaluate(predictions: pd.DataFrame, horizon: int, fee_bps: float, bar_hours: float = 1.0) -> pd.DataFrame:
    """One row per (model, window, seed): test period, then every metric in :data:`METRICS`."""
    test = predictions[predictions["part"] == "test"]
    out = []
    for (model, window, seed), rows in test.groupby(["model", "window", "seed"], sort=True):
        out.append(
            {
                "model": model,
                "window": int(window),
                "seed": int(seed),
                "test_start": rows["bar_time"].min(),
                "test_end": rows["bar_time"].max(),
                **score(rows, horizon, fee_bps, bar_hours),
            }
        )
    return pd.DataFrame(out)


def summarise(
    predictions: pd.DataFrame, horizon: int, fee_bps: float, bar_hours: float = 1.0
) -> pd.DataFrame:
    """Per model: each metric over all test windows pooled, mean and std over seeds (``<metric>_std``)."""
    test = predictions[predictions["part"] == "test"]
    per_seed = []
    for (model, seed), rows in test.groupby(["model", "seed"], sort=True):
        # windows are backtested one by one (each starts flat); their P&L joins into one curve
        scores = score(rows, horizon, fee_bps, bar_hours)
        per_seed.append({"model": model, "seed": seed, **scores})
    frame = pd.DataFrame(per_seed)
    mean = frame.groupby("model")[METRICS].mean()
    std = frame.groupby("model")[METRICS].std(ddof=1).fillna(0.0).add_suffix("_std")
    return mean.join(std).reset_index()


def format_summary(summary: pd.DataFrame, order: list[str] | None = None) -> str:
    """A markdown table of mean ± std over seeds (Dagster metadata, the CLI)."""
    cols = ["accuracy", "ic", "rank_ic", "log_loss", "coverage", "sharpe", "max_drawdown", "win_rate"]
    rows = summary.set_index("model")
    names = [m for m in (order or list(rows.index)) if m in rows.index]
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name in names:
        cells = []
        for c in cols:
            m, s = rows.loc[name, c], rows.loc[name, f"{c}_std"]
            cells.append("n/a" if isinstance(m, float) and math.isnan(m) else f"{m:.4f} ± {s:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pooled_accuracy(predictions: pd.DataFrame, model: str) -> tuple[float, float, int]:
    """Accuracy of ``model`` over every labelled test row (seeds averaged per bar), its SE and bar count."""
    rows = predictions[
        (predictions["model"] == model) & (predictions["part"] == "test") & predictions["fwd_ret"].notna()
    ]
    per_bar = rows.groupby(["asset", "bar_time"]).agg(p_up=("p_up", "mean"), fwd_ret=("fwd_ret", "first"))
    hit = ((per_bar["p_up"] > 0.5) == (per_bar["fwd_ret"] > 0)).to_numpy(np.float64)
    acc = float(hit.mean())
    return acc, math.sqrt(acc * (1 - acc) / len(hit)), len(hit)


def against_oracle(
    predictions: pd.DataFrame, oracle: pd.DataFrame, model: str = "ensemble"
) -> dict[str, float]:
    """Hit rates of ``model`` and of the oracle on the same labelled test bars (evaluation only).

    ``oracle`` has (asset, bar_time, oracle_up): the Bayes-optimal direction (1 up, 0 down) that
    a simulator with a planted signal knows. Comparing on the same bars cancels most sampling
    noise. The model's hit rate is the mean over seeds of each seed's hit rate (what one trained
    model achieves, not a blend of seeds). ``recovery`` is the achieved edge over the oracle's:
    (hit - 0.5) / (oracle_hit - 0.5).
    """
    rows = predictions[
        (predictions["model"] == model) & (predictions["part"] == "test") & predictions["fwd_ret"].notna()
    ]
    joined = rows.merge(oracle[["asset", "bar_time", "oracle_up"]], on=["asset", "bar_time"], how="inner")
    if joined.empty:
        raise ValueError("no test bar of the predictions has an oracle direction")
    joined = joined.assign(
        up=joined["fwd_ret"] > 0, call=joined["p_up"] > 0.5, oracle_call=joined["oracle_up"] > 0.5
    )
    per_seed = joined.groupby("seed").apply(
        lambda g: pd.Series(
            {
                "bars": len(g),
                "hit": float(np.mean(g["call"] == g["up"])),
                "oracle_hit": float(np.mean(g["oracle_call"] == g["up"])),
                "agreement": float(np.mean(g["call"] == g["oracle_call"])),
            }
        ),
        include_groups=False,
    )
    mean = per_seed.mean()
    edge = mean["oracle_hit"] - 0.5
    return {
        "bars": float(mean["bars"]),
        "hit": float(mean["hit"]),
        "hit_std": float(per_seed["hit"].std(ddof=1)) if len(per_seed) > 1 else 0.0,
        "oracle_hit": float(mean["oracle_hit"]),
        "agreement": float(mean["agreement"]),
        "recovery": float((mean["hit"] - 0.5) / edge) if edge > 0 else float("nan"),
    }


def score_model(model, windows, horizon: int, fee_bps: float, min_edge_bps: float | None = None,
                allow_short: bool = True, bar_hours: float = 1.0) -> dict[str, float]:  # fmt: skip
    """Scores and backtest of a trained ``model`` on the labelled ``windows`` (e.g. a promotion window).

    Uses the same decision rule as the walk-forward evaluation, so two models scored on the same
    windows can be compared directly.
    """
    from models.strategy import positions

    labelled = windows.take(np.flatnonzero(windows.labelled))
    if len(labelled) == 0:
        raise ValueError("no labelled windows to score the model on")
    forecast = model.predict_windows(labelled)
    edge = (fee_bps if min_edge_bps is None else min_edge_bps) / 1e4
    rows = pd.DataFrame(
        {
            "asset": labelled.asset.astype(str),
            "bar_time": labelled.bar_time,
            "forecast": forecast.ret,
            "lower": forecast.lower,
            "upper": forecast.upper,
            "p_up": forecast.p_up,
            "position": positions(forecast.ret, edge, allow_short),
            "fwd_ret": labelled.fwd_ret,
        }
    )
    return score(rows, horizon, fee_bps, bar_hours)
