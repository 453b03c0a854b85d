"""Hyperparameter search with optuna: each trial is scored on inner walk-forward folds of the training
window (never a test window) and pruned after each fold that is worse than the median trial.

Storage is any RDB URL optuna accepts: SQLite under ``KIMERA_HOME`` by default, or PostgreSQL
(``postgresql+psycopg://user@host/db``) to spread trials over machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kimera.config import ModelsConfig
from models.splits import WalkForward
from models.windows import Windows


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    best_params: dict[str, Any]
    best_value: float
    trials: int
    pruned: int
    complete: int


def search_space(kind: str, trial) -> dict[str, Any]:
    """The hyperparameters a trial of ``kind`` tries."""
    if kind == "lstm":
        return {
            "hidden": trial.suggest_categorical("hidden", [16, 32, 64]),
            "layers": trial.suggest_int("layers", 1, 2),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3),
            "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        }
    if kind == "transformer":
        return {
            "d_model": trial.suggest_categorical("d_model", [16, 32, 64]),
            "heads": trial.suggest_categorical("heads", [2, 4]),
            "layers": trial.suggest_int("layers", 1, 3),
            "ff": trial.suggest_categorical("ff", [32, 64, 128]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3),
            "lr": trial.suggest_float("lr", 3e-4, 5e-3, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        }
    if kind == "lightgbm":
        return {
            "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
            "n_estimators": 400,
            "lags": trial.suggest_int("lags", 1, 6),
        }
    raise ValueError(f"no search space for {kind!r}: expected 'lstm', 'transformer' or 'lightgbm'")


def inner_folds(windows: Windows, cfg: ModelsConfig) -> list:
    """``hpo.folds`` walk-forward folds inside ``windows`` (the training window), the latest ones.

    Each uses the fit/validation layout of the outer scheme at a smaller scale: a trial is scored
    on the inner 'test' part, which lies inside the outer training window.
    """
    times = np.unique(windows.bar_time[windows.labelled])
    test_bars = max(cfg.val_bars, 20)  # as many scored bars as validation: a noisy score picks noise
    train_bars = max(len(times) - cfg.hpo.folds * test_bars - (cfg.horizon + 1 + cfg.embargo_bars), 0)
    scheme = WalkForward(
        train_bars=train_bars,
        val_bars=min(cfg.val_bars, train_bars // 4),
        test_bars=test_bars,
        horizon=cfg.horizon,
        embargo_bars=cfg.embargo_bars,
        expanding=True,
    )
    return scheme.folds(times, max_folds=cfg.hpo.folds)


def make_pruner(name: str):
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.NopPruner()


def search(
    kind: str,
    windows: Windows,
    cfg: ModelsConfig,
    storage: str,
    study_name: str,
    trials: int | None = None,
    device: str = "cpu",
) -> SearchResult:
    """Run (or resume) the study ``study_name`` in ``storage``: ``trials`` more trials of ``kind``.

    The objective is the mean validation log loss of P(up) over the inner folds (lower is better);
    a trial reports after each fold and is pruned when it falls behind the median.
    """
    import optuna

    from models.metrics import forecast_metrics
    from models.walk_forward import split, train_member

    folds = inner_folds(windows, cfg)
    seed = cfg.seeds[0]

    def objective(trial) -> float:
        params = search_space(kind, trial)
        losses = []
        for step, fold in enumerate(folds):
            fit, val, test = split(windows, fold)
            model = train_member(kind, fit, val, cfg, seed, params, device)
            test = test.take(np.flatnonzero(test.labelled))
            f = model.predict_windows(test)
            losses.append(forecast_metrics(f.ret, f.lower, f.upper, f.p_up, test.fwd_ret)["log_loss"])
            trial.report(float(np.mean(losses)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(losses))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=make_pruner(cfg.hpo.pruner),
        load_if_exists=True,
    )
    study.optimize(
        objective, n_trials=trials or cfg.hpo.trials, timeout=cfg.hpo.timeout_s, gc_after_trial=False
    )
    states = [t.state for t in study.trials]
    complete = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
    if not complete:
        raise RuntimeError(f"study {study_name!r} has no complete trial (all {len(states)} pruned or failed)")
    return SearchResult(
        study_name=study_name,
        best_params={**study.best_params, **({"n_estimators": 400} if kind == "lightgbm" else {})},
        best_value=float(study.best_value),
        trials=len(states),
        pruned=sum(s == optuna.trial.TrialState.PRUNED for s in states),
        complete=complete,
    )


def storage_url(cfg: ModelsConfig, default: str) -> str:
    """The optuna storage: ``models.hpo.storage`` when set, else ``default`` (Settings.optuna_storage)."""
    return cfg.hpo.storage or default


def tuning_windows(windows: Windows, cfg: ModelsConfig) -> Windows:
    """The windows a search may look at: the training window of the first evaluation fold.

    Hyperparameters picked there were chosen before every walk-forward test bar, so the
    evaluation of the tuned models stays out of sample.
    """
    from models.walk_forward import evaluation_folds

    first = evaluation_folds(windows, cfg)[0]
    keep = (windows.bar_time >= first.fit[0]) & (windows.bar_time < first.val[1])
    return windows.take(np.flatnonzero(keep))
