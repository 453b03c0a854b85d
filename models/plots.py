"""Every picture Kimera draws (PNG, matplotlib's Agg backend): each takes frames and a path.

The report (``kimera.app.report``: prices, features, model scores, paper trading) and the ML
evaluation asset (``pipelines.ml.evaluation``: strategy equity, predicted vs realised,
calibration of the walk-forward test windows) draw with these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.strategy import backtest


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def prices(frame: pd.DataFrame, path: Path) -> Path:
    """Per asset: hourly price on every venue and pool, and each one's premium over the CEX median."""
    plt = _pyplot()
    assets = sorted(frame["asset"].unique())
    fig, axes = plt.subplots(len(assets), 2, figsize=(13, 3.6 * len(assets)), squeeze=False)
    for row, asset in enumerate(assets):
        mine = frame[frame["asset"] == asset]
        wide = mine.pivot_table(index="hour", columns="venue", values="price")
        cex = sorted(mine.loc[mine["kind"] == "cex", "venue"].unique())
        reference = wide[cex].median(axis=1)
        for venue in wide.columns:
            style = "-" if venue in cex else "--"
            axes[row, 0].plot(wide.index, wide[venue], style, lw=0.8, label=venue)
            premium = (wide[venue] / reference - 1.0) * 1e4
            axes[row, 1].plot(wide.index, premium, style, lw=0.6, label=venue)
        axes[row, 0].set_title(f"{asset}: hourly close on each venue (DEX pools dashed)")
        axes[row, 0].set_ylabel("price (quote)")
        axes[row, 1].set_title(f"{asset}: premium over the CEX median")
        axes[row, 1].set_ylabel("bps")
        axes[row, 1].axhline(0, color="grey", lw=0.5)
        for ax in axes[row]:
            ax.legend(fontsize=7, ncols=2)
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _save(fig, path)


def features(frame: pd.DataFrame, path: Path) -> Path:
    """One panel per feature, a line per asset."""
    plt = _pyplot()
    names = [c for c in frame.columns if c not in {"asset", "bar_time", "fwd_ret_1"}]
    cols = 2
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.8 * rows), squeeze=False, sharex=True)
    for ax, name in zip(axes.flat, names, strict=False):
        for asset, rows_ in frame.groupby("asset", sort=True):
            ax.plot(rows_["bar_time"], rows_[name], lw=0.7, label=asset)
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    return _save(fig, path)


def predicted_vs_realised(frame: pd.DataFrame, path: Path, max_panels: int = 6) -> Path:
    """Forecast against the realised forward return, per model: points, decile means, the diagonal."""
    plt = _pyplot()
    groups = list(frame.groupby(["source", "model"], sort=True))[:max_panels]
    cols = min(3, len(groups))
    rows = (len(groups) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 4 * rows), squeeze=False)
    for ax, ((source, model), rows_) in zip(axes.flat, groups, strict=False):
        x, y = rows_["forecast"].to_numpy(), rows_["fwd_ret"].to_numpy()
        ax.scatter(x, y, s=3, alpha=0.25)
        if len(x) >= 20 and np.ptp(x) > 0:
            bins = pd.qcut(x, 10, duplicates="drop")
            means = pd.DataFrame({"x": x, "y": y}).groupby(bins, observed=True).mean()
            ax.plot(means["x"], means["y"], "o-", color="C3", ms=3, lw=1, label="decile means")
            ax.legend(fontsize=7)
        lim = np.nanpercentile(np.abs(y), 99) if len(y) else 1.0
        ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.6)
        ic = np.corrcoef(x, y)[0, 1] if len(x) > 2 and np.std(x) > 0 else float("nan")
        ax.set_title(f"{model} ({source}), n={len(x)}, IC {ic:+.3f}", fontsize=9)
        ax.set_xlabel("forecast log return")
        ax.set_ylabel("realised log return")
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    return _save(fig, path)


def calibration(frame: pd.DataFrame, path: Path, bins: int = 10) -> Path:
    """Reliability of P(up): realised share of up moves per bin of predicted P(up), per model."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), height_ratios=[3, 1], sharex=True)
    edges = np.linspace(0, 1, bins + 1)
    for i, ((source, model), rows_) in enumerate(frame.groupby(["source", "model"], sort=True)):
        p, up = rows_["p_up"].to_numpy(), (rows_["fwd_ret"].to_numpy() > 0).astype(float)
        which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        table = (
            pd.DataFrame({"bin": which, "p": p, "up": up})
            .groupby("bin")
            .agg(p=("p", "mean"), up=("up", "mean"), n=("up", "size"))
        )
        table = table[table["n"] >= 5]  # a share of fewer bars says nothing
        label = f"{model} ({source})"
        top.plot(table["p"], table["up"], "o-", ms=3, lw=1, label=label, color=f"C{i % 10}")
        bottom.hist(p, bins=edges, histtype="step", color=f"C{i % 10}")
    top.plot([0, 1], [0, 1], color="grey", lw=0.6, label="perfectly calibrated")
    top.set_ylabel("realised share of up moves")
    top.set_title("Calibration of P(up) (bins with at least 5 bars)")
    top.legend(fontsize=7)
    bottom.set_xlabel("predicted P(up)")
    bottom.set_ylabel("bars")
    return _save(fig, path)


def equity(curve: pd.DataFrame, fills: int, path: Path) -> Path:
    """Paper-trading equity (``time``, ``equity``, ``drawdown`` after each of ``fills`` fills) and its drawdown."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), height_ratios=[2, 1], sharex=True)
    top.step(curve["time"], curve["equity"], where="post", lw=1.2)
    top.axhline(0, color="grey", lw=0.5)
    top.set_ylabel("equity (quote)")
    top.set_title(f"Paper trading: equity after {fills} fills (fees paid, marked at the last fill)")
    bottom.fill_between(curve["time"], curve["drawdown"], 0, step="post", color="C3", alpha=0.4)
    bottom.set_ylabel("drawdown (quote)")
    bottom.set_xlabel("market time of the fill (UTC)")
    return _save(fig, path)


def fills_per_venue(fills: pd.DataFrame, path: Path) -> Path:
    """Fills and traded notional per venue (CEX venues and DEX pools)."""
    plt = _pyplot()
    per = (
        fills.assign(notional=fills["price"] * fills["amount"])
        .groupby("venue")
        .agg(fills=("fill_id", "size"), notional=("notional", "sum"))
        .sort_values("notional", ascending=False)
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.bar(per.index, per["fills"], color="C0")
    left.set_title("fills per venue")
    right.bar(per.index, per["notional"], color="C2")
    right.set_title("notional traded per venue (quote)")
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _save(fig, path)


def equity_curves(
    predictions: pd.DataFrame, horizon: int, fee_bps: float, path: Path, seed: int, bar_hours: float = 1.0
) -> Path:
    """Net cumulative log return of each model's strategy over the test windows (one seed)."""
    plt = _pyplot()
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
    return _save(fig, path)


def backtest_equity(curve: pd.DataFrame, path: Path) -> Path:
    """An event-driven backtest's equity by bar (``bar_time``, ``equity``) and its drawdown from the peak."""
    plt = _pyplot()
    equity = curve["equity"].to_numpy(dtype=np.float64)
    drawdown = equity / np.maximum.accumulate(equity) - 1
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), height_ratios=[2, 1], sharex=True)
    top.plot(curve["bar_time"], equity, lw=1.2)
    top.set_ylabel("equity (quote)")
    top.set_title(
        "Backtest: equity at each bar close (fees, gas and slippage paid; marked at the median mid)"
    )
    bottom.fill_between(curve["bar_time"], drawdown * 100, 0, color="C3", alpha=0.4)
    bottom.set_ylabel("drawdown (%)")
    bottom.set_xlabel("bar close (UTC)")
    return _save(fig, path)
