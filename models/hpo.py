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
    """A study's outcome. ``params`` is what to train with: the best trial's hyperparameters only when
    they beat the config's defaults by more than noise on the same bars, else the defaults."""

    study_name: str
    params: dict[str, Any]
    chosen: str  # "searched" or "default"
    best_params: dict[str, Any]
    best_value: float
    default_value: float | None
    improvement_z: float | None  # paired z-score of the best trial's per-bar log loss gain over the defaults
    trials: int
    pruned: int
    complete: int


def search_space(kind: str, trial, cfg: ModelsConfig | None = None) -> dict[str, Any]:
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
            "n_estimators": cfg.lightgbm.n_estimators if cfg is not None else 400,
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


def defaults_inside_space(kind: str, cfg: ModelsConfig) -> dict[str, Any] | None:
    """The config's hyperparameters of ``kind`` as a trial, or None where one lies outside the space."""
    import optuna

    from models.walk_forward import model_params

    defaults = model_params(kind, cfg)
    probe = optuna.create_study().ask()  # in memory: only to read the space's distributions
    search_space(kind, probe, cfg)
    fixed: dict[str, Any] = {}
    for name, dist in probe.distributions.items():
        value = defaults.get(name)
        if value is None:
            return None
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            if value not in dist.choices:
                return None
        elif not dist.low <= value <= dist.high:
            return None
        fixed[name] = value
    return fixed


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

    The objective is the log loss of P(up) on the inner folds' scored bars (lower is better); a
    trial reports after each fold and is pruned when it falls behind the median. A new study
    starts with the config's hyperparameters as its first trial; the best trial is adopted only
    if its per-bar log loss beats that first trial's on the same bars by more than two standard
    errors (a paired test), because on weak signals a search mostly picks noise.
    """
    import optuna

    objective = make_objective(kind, windows, cfg, device)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=cfg.seeds[0]),
        pruner=make_pruner(cfg.hpo.pruner),
        load_if_exists=True,
    )
    defaults = defaults_inside_space(kind, cfg)
    if not study.trials and defaults is not None:
        study.enqueue_trial(defaults, user_attrs={"default": True})
    study.optimize(
        objective, n_trials=trials or cfg.hpo.trials, timeout=cfg.hpo.timeout_s, gc_after_trial=False
    )
    return summarise(study, kind, cfg)


def make_objective(kind: str, windows: Windows, cfg: ModelsConfig, device: str = "cpu"):
    """The trial objective: mean log loss of P(up) over the inner folds' scored bars (lower is
    better), reported after each fold for the pruner; the per-bar losses go in user attr "losses"."""
    import optuna

    from models.walk_forward import split, train_member

    folds = inner_folds(windows, cfg)
    seed = cfg.seeds[0]

    def objective(trial) -> float:
        params = search_space(kind, trial, cfg)
        losses: list[float] = []
        for step, fold in enumerate(folds):
            fit, val, test = split(windows, fold)
            model = train_member(kind, fit, val, cfg, seed, params, device)
            test = test.take(np.flatnonzero(test.labelled))
            p = np.clip(model.predict_windows(test).p_up, 1e-6, 1 - 1e-6)
            up = test.fwd_ret > 0
            losses.extend((-np.where(up, np.log(p), np.log(1 - p))).tolist())
            trial.report(float(np.mean(losses)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        trial.set_user_attr("losses", losses)
        return float(np.mean(losses))

    return objective


def summarise(study, kind: str, cfg: ModelsConfig) -> SearchResult:
    """The study's outcome: its best trial, adopted only if it beats the defaults' trial by a paired
    z of 2 or more on the same bars (else the defaults). Raises when no trial completed."""
    import optuna

    study_name = study.study_name
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise RuntimeError(
            f"study {study_name!r} has no complete trial (all {len(study.trials)} pruned or failed)"
        )
    best = study.best_trial
    extra = {"n_estimators": cfg.lightgbm.n_estimators} if kind == "lightgbm" else {}
    default_trial = next((t for t in done if t.user_attrs.get("default")), None)
    chosen, params, z, default_value = "searched", {**best.params, **extra}, None, None
    if default_trial is not None:
        default_value = float(default_trial.value)
        gain = np.asarray(default_trial.user_attrs["losses"]) - np.asarray(best.user_attrs["losses"])
        spread = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else 0.0
        z = float(gain.mean() / spread) if spread > 0 else 0.0
        if best.number == default_trial.number or z < 2.0:
            chosen, params = "default", {**default_trial.params, **extra}
    return SearchResult(
        study_name=study_name,
        params=params,
        chosen=chosen,
        best_params={**best.params, **extra},
        best_value=float(best.value),
        default_value=default_value,
        improvement_z=z,
        trials=len(study.trials),
        pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
        complete=len(done),
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
