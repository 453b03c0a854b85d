"""Report plots (PNG, matplotlib's Agg backend): equity curves, predicted vs realised, calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.strategy import backtest


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def equity_curves(
    predictions: pd.DataFrame, horizon: int, fee_bps: float, path: Path, seed: int, bar_hours: float = 1.0
) -> Path:
    """Net cumulative log return of each model's strategy over the test windows (one seed)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    test = predictions[(predictions["part"] == "test") & (predictions["seed"] == seed)]
    for model, rows in test.groupby("model", sort=True):
        curve = backtest(rows[rows["fwd_ret"].notna()], horizon, fee_bps, bar_hours).equity
        ax.plot(curve.index, curve.to_numpy(), label=model, lw=1.4 if model == "ensemble" else 0.9)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title(f"Strategy equity after {fee_bps:g} bps fees (test windows, seed {seed})")
    ax.set_ylabel("cumulative net log return")
    ax.legend(fontsize=8, ncols=2)
    fig.autofmt_xdate()
    return _save(fig, plt, path)


def predicted_vs_realised(predictions: pd.DataFrame, model: str, path: Path) -> Path:
    """Scatter of forecast against realised forward return, with the interval's share inside."""
    plt = _figure()
    rows = predictions[(predictions["model"] == model) & (predictions["part"] == "test")].dropna(
        subset=["fwd_ret"]
    )
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(rows["forecast"], rows["fwd_ret"], s=4, alpha=0.35)
    lim = float(np.nanquantile(np.abs(rows["fwd_ret"]), 0.99)) if len(rows) else 1.0
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("forecast log return")
    ax.set_ylabel("realised log return")
    inside = (
        np.mean((rows["fwd_ret"] >= rows["lower"]) & (rows["fwd_ret"] <= rows["upper"]))
        if len(rows)
        else np.nan
    )
    ax.set_title(f"{model}: predicted vs realised (interval holds {inside:.0%})")
    return _save(fig, plt, path)


def calibration(predictions: pd.DataFrame, models: list[str], path: Path, bins: int = 10) -> Path:
    """Reliability diagram: realised share of up moves per bin of predicted P(up)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect")
    for model in models:
        rows = predictions[(predictions["model"] == model) & (predictions["part"] == "test")].dropna(
            subset=["fwd_ret"]
        )
        if rows.empty:
            continue
        edges = np.quantile(rows["p_up"], np.linspace(0, 1, bins + 1))
        which = np.clip(np.searchsorted(edges, rows["p_up"], side="right") - 1, 0, bins - 1)
        table = (
            pd.DataFrame({"bin": which, "p": rows["p_up"], "up": rows["fwd_ret"] > 0}).groupby("bin").mean()
        )
        ax.plot(table["p"], table["up"], marker="o", ms=3, lw=1, label=model)
    ax.set_xlabel("predicted P(up)")
    ax.set_ylabel("realised share up")
    ax.set_title("Calibration (test windows)")
    ax.legend(fontsize=8)
    return _save(fig, plt, path)


def _save(fig, plt, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
