"""Walk-forward runs: every model trained on each fold's training window, scored on its test window.

A run of one model gives a predictions frame with one row per (seed, window, part, asset, bar_time):
``part`` is 'val' (inside the training window: used for ensemble weights) or 'test' (out of sample).
Baselines: ``always_up`` (long, base-rate probability), ``persistence`` (the last h-bar return
continues), and the ``linear`` member. The ensemble is blended from its members' frames, with
weights fit on 'val' rows of the same window and seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kimera.config import ModelsConfig
from models.base import Model
from models.forecast import Forecast, gaussian
from models.splits import Fold, WalkForward
from models.strategy import positions
from models.windows import Windows

NETWORKS = ("lstm", "transformer")
MEMBERS = ("lstm", "transformer", "linear", "lightgbm")
BASELINES = ("always_up", "persistence")
ALL_MODELS = (*BASELINES, *MEMBERS, "ensemble")
DETERMINISTIC = ("always_up", "persistence", "linear")  # same result for every seed

PREDICTION_COLUMNS = [
    "model", "seed", "window", "part", "asset", "bar_time",
    "forecast", "lower", "upper", "p_up", "position", "fwd_ret",
]  # fmt: skip


@dataclass
class MemberRun:
    """Predictions of one model over the folds and seeds, and how long its training took."""

    model: str
    predictions: pd.DataFrame
    train_seconds: float = 0.0
    logs: list[dict[str, Any]] = field(default_factory=list)


def walk_forward(cfg: ModelsConfig) -> WalkForward:
    return WalkForward(
        train_bars=cfg.train_bars,
        val_bars=cfg.val_bars,
        test_bars=cfg.test_bars,
        horizon=cfg.horizon,
        embargo_bars=cfg.embargo_bars,
        expanding=cfg.expanding,
    )


def evaluation_folds(windows: Windows, cfg: ModelsConfig) -> list[Fold]:
    """The latest ``max_windows`` folds over the labelled bars (anchored at the first one)."""
    return walk_forward(cfg).folds(windows.bar_time[windows.labelled], max_folds=cfg.max_windows)


def split(windows: Windows, fold: Fold) -> tuple[Windows, Windows, Windows]:
    """The fit, validation and test windows of a fold."""
    parts = (windows.take(np.flatnonzero(fold.mask(windows.bar_time, p))) for p in ("fit", "val", "test"))
    return tuple(parts)  # type: ignore[return-value]


def model_params(kind: str, cfg: ModelsConfig, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hyperparameters of ``kind`` from the config, with ``overrides`` (e.g. optuna's best) on top."""
    base: dict[str, Any] = {
        "lstm": cfg.lstm.model_dump(),
        "transformer": cfg.transformer.model_dump(),
        "lightgbm": cfg.lightgbm.model_dump(),
        "linear": {"lags": 1},
    }.get(kind, {})
    return {**base, **(overrides or {})}


def train_member(
    kind: str,
    fit: Windows,
    val: Windows,
    cfg: ModelsConfig,
    seed: int,
    params: dict[str, Any] | None = None,
    device: str = "cpu",
    on_epoch=None,
) -> Model:
    """One trained member of ``kind`` ('lstm', 'transformer', 'linear' or 'lightgbm'), learning from
    the features that ``cfg.screen_t``'s screen keeps on ``fit`` (its ``feature_names``)."""
    from models.neural import train_network
    from models.selection import screen_features
    from models.tabular import train_lightgbm, train_linear

    levels = tuple(cfg.quantiles)
    params = model_params(kind, cfg, params)
    kept = screen_features(fit, cfg.screen_t)  # on the fit part only: validation stays unseen
    fit, val = fit.select(kept), val.select(kept)
    if kind in NETWORKS:
        return train_network(
            kind,
            params,
            fit,
            val,
            levels,
            seed,
            max_epochs=cfg.max_epochs,
            patience=cfg.patience,
            batch_size=cfg.batch_size,
            threads=cfg.threads,
            device=device,
            on_epoch=on_epoch,
        )
    if kind == "linear":
        return train_linear(fit, val, levels, lags=int(params.get("lags", 1)))
    if kind == "lightgbm":
        return train_lightgbm(fit, val, levels, seed, params, threads=cfg.threads)
    raise ValueError(f"unknown model {kind!r}: expected one of {list(MEMBERS)}")


def min_edge(cfg: ModelsConfig) -> float:
    return (cfg.fee_bps if cfg.min_edge_bps is None else cfg.min_edge_bps) / 1e4


def frame_of(
    model: str, seed: int, window: int, part: str, w: Windows, forecast: Forecast, cfg: ModelsConfig,
    position: np.ndarray | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Prediction rows of ``forecast`` for windows ``w``."""
    if position is None:
        position = positions(forecast.ret, min_edge(cfg), cfg.allow_short)
    return pd.DataFrame(
        {
            "model": model,
            "seed": seed,
            "window": window,
            "part": part,
            "asset": w.asset.astype(str),
            "bar_time": w.bar_time,
            "forecast": forecast.ret,
            "lower": forecast.lower,
            "upper": forecast.upper,
            "p_up": forecast.p_up,
            "position": position,
            "fwd_ret": w.fwd_ret,
        },
        columns=PREDICTION_COLUMNS,
    )


def baseline_forecast(
    kind: str, fit: Windows, w: Windows, levels: tuple[float, ...]
) -> tuple[Forecast, np.ndarray | None]:
    """Forecast of a baseline for windows ``w`` from what ``fit`` knows, and its fixed position if any."""
    realised = fit.fwd_ret[fit.labelled]
    sigma = float(realised.std())
    if kind == "always_up":
        base_rate = float(np.mean(realised > 0))
        q = np.quantile(realised, levels)
        forecast = Forecast(
            np.full(len(w), realised.mean()),
            np.tile(q, (len(w), 1)),
            np.full(len(w), max(base_rate, 0.5 + 1e-9)),  # it always says up
            tuple(levels),
        )
        return forecast, np.ones(len(w))
    if kind == "persistence":
        return gaussian(np.nan_to_num(w.past_ret, nan=0.0), sigma, levels), None
    raise ValueError(f"unknown baseline {kind!r}: expected one of {list(BASELINES)}")


def run_member(
    kind: str,
    windows: Windows,
    folds: list[Fold],
    cfg: ModelsConfig,
    params: dict[str, Any] | None = None,
    device: str = "cpu",
    seeds: list[int] | None = None,
) -> MemberRun:
    """Walk-forward predictions ('val' and 'test' rows) of ``kind`` for every fold and seed."""
    seeds = list(seeds or cfg.seeds)
    levels = tuple(cfg.quantiles)
    frames, logs = [], []
    started = time.perf_counter()
    for fold in folds:
        fit, val, test = split(windows, fold)
        if kind in BASELINES:
            for part, w in (("val", val), ("test", test)):
                forecast, pos = baseline_forecast(kind, fit, w, levels)
                frames += [frame_of(kind, s, fold.number, part, w, forecast, cfg, pos) for s in seeds]
            continue
        trained_once: Model | None = None
        for seed in seeds:
            t0 = time.perf_counter()
            if kind in DETERMINISTIC and trained_once is not None:
                model = trained_once
            else:
                model = train_member(kind, fit, val, cfg, seed, params, device)
                trained_once = model
            for part, w in (("val", val), ("test", test)):
                frames.append(frame_of(kind, seed, fold.number, part, w, model.predict_windows(w), cfg))
            log = getattr(model, "log", None)
            logs.append(
                {
                    "model": kind,
                    "window": fold.number,
                    "seed": seed,
                    "seconds": time.perf_counter() - t0,
                    "epochs": getattr(log, "epochs", None),
                    "best_epoch": getattr(log, "best_epoch", None),
                }
            )
    return MemberRun(kind, pd.concat(frames, ignore_index=True), time.perf_counter() - started, logs)


def run_ensemble(member_runs: list[MemberRun], cfg: ModelsConfig) -> MemberRun:
    """The ensemble's predictions: per window and seed, members blended with weights fit on rows known
    before the window's test part: its 'val' rows, and the out-of-sample 'test' rows of earlier
    windows that end before that validation part starts (their labels are realised by then)."""
    from models.ensemble import fit_weights

    started = time.perf_counter()
    names = [r.model for r in member_runs]
    key = ["seed", "window", "part", "asset", "bar_time"]
    joined = None
    for run in member_runs:
        cols = run.predictions[[*key, "forecast", "lower", "upper", "p_up", "fwd_ret"]]
        cols = cols.rename(columns={c: f"{c}:{run.model}" for c in ("forecast", "lower", "upper", "p_up")})
        joined = cols if joined is None else joined.merge(cols.drop(columns="fwd_ret"), on=key, how="inner")
    frames, logs = [], []
    labelled_tests = joined[(joined["part"] == "test") & joined["fwd_ret"].notna()]
    for (seed, window), rows in joined.groupby(["seed", "window"], sort=True):
        val = rows[(rows["part"] == "val") & rows["fwd_ret"].notna()]
        earlier = labelled_tests[
            (labelled_tests["seed"] == seed)
            & (labelled_tests["window"] < window)
            & (labelled_tests["bar_time"] < val["bar_time"].min())
        ]
        known = pd.concat([earlier, val])
        weights = fit_weights(
            [known[f"p_up:{n}"].to_numpy() for n in names], (known["fwd_ret"] > 0).to_numpy(float)
        )
        logs.append(
            {"model": "ensemble", "window": window, "seed": seed, "weight_rows": len(known),
             **dict(zip(names, weights, strict=True))}
        )  # fmt: skip
        blended = {c: sum(w * rows[f"{c}:{n}"].to_numpy() for w, n in zip(weights, names, strict=True))
                   for c in ("forecast", "lower", "upper", "p_up")}  # fmt: skip
        out = rows[key + ["fwd_ret"]].copy()
        for c, v in blended.items():
            out[c] = v
        out["model"] = "ensemble"
        out["position"] = positions(out["forecast"].to_numpy(), min_edge(cfg), cfg.allow_short)
        frames.append(out[PREDICTION_COLUMNS])
    return MemberRun("ensemble", pd.concat(frames, ignore_index=True), time.perf_counter() - started, logs)


def final_fold(windows: Windows, cfg: ModelsConfig) -> Fold:
    """The newest training window (ends at the last labelled bar): where the deployed models learn."""
    return walk_forward(cfg).final(windows.bar_time[windows.labelled])


def train_final_member(
    kind: str,
    windows: Windows,
    cfg: ModelsConfig,
    params: dict[str, Any] | None = None,
    device: str = "cpu",
    seed: int | None = None,
) -> Model:
    """A member trained on the newest training window, for use after the data (the registry's model)."""
    fit, val, _ = split(windows, final_fold(windows, cfg))
    return train_member(kind, fit, val, cfg, cfg.seeds[0] if seed is None else seed, params, device)


def final_ensemble(
    members: dict[str, Model], windows: Windows, cfg: ModelsConfig, history: list[MemberRun] | None = None
) -> Model:
    """The ensemble of final ``members``, weights fit on the newest training window's validation part
    and, given the members' walk-forward ``history``, their out-of-sample test rows before it (seed
    ``seeds[0]``), as the walk-forward ensemble does."""
    from models.ensemble import ensemble_from_p_up

    _, val, _ = split(windows, final_fold(windows, cfg))
    val = val.take(np.flatnonzero(val.labelled))
    p_up = {k: m.predict_windows(val).p_up for k, m in members.items()}
    up = val.up
    if history:
        names = list(members)
        joined = None
        for run in history:
            rows = run.predictions
            rows = rows[(rows["part"] == "test") & (rows["seed"] == cfg.seeds[0]) & rows["fwd_ret"].notna()]
            rows = rows[rows["bar_time"] < val.bar_time.min()][["asset", "bar_time", "fwd_ret", "p_up"]]
            rows = rows.rename(columns={"p_up": f"p_up:{run.model}"})
            joined = (
                rows
                if joined is None
                else joined.merge(rows.drop(columns="fwd_ret"), on=["asset", "bar_time"])
            )
        if joined is not None and len(joined):
            p_up = {k: np.concatenate([joined[f"p_up:{k}"].to_numpy(), p_up[k]]) for k in names}
            up = np.concatenate([(joined["fwd_ret"] > 0).to_numpy(np.float64), up])
    return ensemble_from_p_up(members, p_up, up)


def train_final(
    windows: Windows,
    cfg: ModelsConfig,
    params: dict[str, dict[str, Any]] | None = None,
    device: str = "cpu",
    seed: int | None = None,
) -> dict[str, Model]:
    """Every member and the ensemble, trained on the newest training window."""
    members = {k: train_final_member(k, windows, cfg, (params or {}).get(k), device, seed) for k in MEMBERS}
    return {**members, "ensemble": final_ensemble(members, windows, cfg)}


def run_all(
    windows: Windows,
    cfg: ModelsConfig,
    params: dict[str, dict[str, Any]] | None = None,
    device: str = "cpu",
    folds: list[Fold] | None = None,
) -> tuple[list[Fold], dict[str, MemberRun]]:
    """Every baseline, member and the ensemble over the evaluation folds; runs keyed by model."""
    folds = folds if folds is not None else evaluation_folds(windows, cfg)
    runs = {
        k: run_member(k, windows, folds, cfg, (params or {}).get(k), device) for k in (*BASELINES, *MEMBERS)
    }
    runs["ensemble"] = run_ensemble([runs[k] for k in MEMBERS], cfg)
    return folds, runs


def all_predictions(runs: dict[str, MemberRun]) -> pd.DataFrame:
    return pd.concat([r.predictions for r in runs.values()], ignore_index=True)
