"""Tabular members of the ensemble: a ridge regression and LightGBM, on the last bars of each window.

Both forecast the mean return; their interval and P(up) assume Gaussian errors with the spread of
their residuals on the validation part of the training window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Model, ModelFileError, common_args
from models.forecast import Forecast, gaussian
from models.scaling import Scaler
from models.windows import Windows

RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
LASSO_PATH = (
    0.5,
    0.3,
    0.2,
    0.1,
    0.05,
    0.02,
)  # penalties as shares of the smallest that zeroes every coefficient


def _inputs(scaler: Scaler, x: np.ndarray, asset: np.ndarray, lags: int) -> np.ndarray:
    scaled = scaler.transform(x[:, -lags:, :], asset, dtype=np.float64)
    return scaled.reshape(len(x), -1)


def _labelled(w: Windows) -> Windows:
    return w.take(np.flatnonzero(w.labelled))


class LinearModel(Model):
    """Ridge regression of the scaled forward return on the scaled features of the last ``lags`` bars."""

    kind: ClassVar[str] = "linear"

    def __init__(self, coef: np.ndarray, intercept: float, sigma: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.sigma = float(sigma)

    @property
    def lags(self) -> int:
        return int(self.params["lags"])

    def _predict(self, x: np.ndarray, asset: np.ndarray) -> Forecast:
        z = _inputs(self.scaler, x, asset, self.lags)
        # a row-wise sum, not a matrix product: the same numbers for one window or a batch
        mean = ((z * self.coef).sum(axis=1) + self.intercept) * self.scaler.target_scale
        return gaussian(mean, self.sigma, self.levels)

    def _save_weights(self, folder: Path) -> None:
        np.savez(folder / "linear.npz", coef=self.coef, intercept=[self.intercept], sigma=[self.sigma])

    @classmethod
    def _load(cls, folder: Path, config: dict[str, Any], scaler: Scaler) -> LinearModel:
        path = folder / "linear.npz"
        if not path.is_file():
            raise ModelFileError(f"{path} not found: the linear model's coefficients are missing")
        with np.load(path, allow_pickle=False) as a:
            return cls(
                a["coef"], float(a["intercept"][0]), float(a["sigma"][0]), **common_args(config, scaler)
            )


def _ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    mean_z, mean_y = z.mean(axis=0), y.mean()
    zc = z - mean_z
    coef = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ (y - mean_y))
    return coef, float(mean_y - mean_z @ coef)


def _lasso(z: np.ndarray, y: np.ndarray, lam: float, sweeps: int = 300) -> tuple[np.ndarray, float]:
    """L1-penalised least squares, (1/2n)|y - Zb|^2 + lam |b|_1, by cyclic coordinate descent."""
    mean_z, mean_y = z.mean(axis=0), y.mean()
    zc, yc = z - mean_z, y - mean_y
    n = len(yc)
    norms = (zc**2).sum(axis=0) / n
    coef = np.zeros(z.shape[1])
    residual = yc.copy()
    for _ in range(sweeps):
        largest = 0.0
        for j in range(z.shape[1]):
            if norms[j] == 0:
                continue
            rho = zc[:, j] @ residual / n + norms[j] * coef[j]
            new = np.sign(rho) * max(abs(rho) - lam, 0.0) / norms[j]
            if new != coef[j]:
                residual -= zc[:, j] * (new - coef[j])
                largest = max(largest, abs(new - coef[j]))
                coef[j] = new
        if largest < 1e-9:
            break
    return coef, float(mean_y - mean_z @ coef)


def _penalised_fits(z: np.ndarray, y: np.ndarray):
    """Candidate fits: ridge over RIDGE_ALPHAS and lasso over a path down from the all-zero penalty."""
    for alpha in RIDGE_ALPHAS:
        yield f"ridge:{alpha:g}", *_ridge(z, y, alpha)
    lam_max = float(np.max(np.abs((z - z.mean(axis=0)).T @ (y - y.mean()))) / len(y))
    for share in LASSO_PATH:
        yield f"lasso:{share:g}", *_lasso(z, y, lam_max * share)


def train_linear(fit: Windows, val: Windows, levels: tuple[float, ...], lags: int = 1) -> LinearModel:
    """A penalised linear regression on ``fit``: ridge or lasso and its penalty chosen by validation
    MSE on ``val`` (inside the training window), which also gives the residual spread. The lasso
    lets it drop features that carry nothing, which ridge only shrinks."""
    fit, val = _labelled(fit), _labelled(val)
    scaler = Scaler.fit(fit)
    lags = min(lags, fit.seq_len)
    z_fit, z_val = (_inputs(scaler, w.x, w.asset, lags) for w in (fit, val))
    y_fit, y_val = fit.fwd_ret / scaler.target_scale, val.fwd_ret / scaler.target_scale
    best = None
    for penalty, coef, intercept in _penalised_fits(z_fit, y_fit):
        mse = float(np.mean(((z_val * coef).sum(axis=1) + intercept - y_val) ** 2))
        if best is None or mse < best[0]:
            best = (mse, penalty, coef, intercept)
    _, penalty, coef, intercept = best
    residual = ((z_val * coef).sum(axis=1) + intercept - y_val) * scaler.target_scale
    return LinearModel(
        coef,
        intercept,
        float(np.sqrt(np.mean(residual**2))),
        feature_names=fit.feature_names,
        seq_len=fit.seq_len,
        horizon=fit.horizon,
        levels=levels,
        scaler=scaler,
        params={"lags": lags, "penalty": penalty, "features_used": int(np.count_nonzero(coef))},
    )


class GbmModel(Model):
    """LightGBM regression of the scaled forward return on the last ``lags`` bars."""

    kind: ClassVar[str] = "lightgbm"

    def __init__(self, booster, sigma: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.booster = booster
        self.sigma = float(sigma)

    def _predict(self, x: np.ndarray, asset: np.ndarray) -> Forecast:
        z = _inputs(self.scaler, x, asset, int(self.params["lags"]))
        mean = self.booster.predict(z, num_threads=1) * self.scaler.target_scale
        return gaussian(mean, self.sigma, self.levels)

    def _save_weights(self, folder: Path) -> None:
        # LightGBM's text format: readable, no pickle, thresholds written exactly
        (folder / "lightgbm.txt").write_text(self.booster.model_to_string())
        np.savez(folder / "lightgbm_sigma.npz", sigma=[self.sigma])

    @classmethod
    def _load(cls, folder: Path, config: dict[str, Any], scaler: Scaler) -> GbmModel:
        import lightgbm as lgb

        path = folder / "lightgbm.txt"
        if not path.is_file():
            raise ModelFileError(f"{path} not found: the LightGBM trees are missing")
        booster = lgb.Booster(model_str=path.read_text())
        with np.load(folder / "lightgbm_sigma.npz", allow_pickle=False) as a:
            sigma = float(a["sigma"][0])
        return cls(booster, sigma, **common_args(config, scaler))


def train_lightgbm(
    fit: Windows,
    val: Windows,
    levels: tuple[float, ...],
    seed: int,
    params: dict[str, Any],
    threads: int = 1,
) -> GbmModel:
    """LightGBM on ``fit``, early-stopped on ``val``; deterministic for a seed and thread count."""
    import lightgbm as lgb

    fit, val = _labelled(fit), _labelled(val)
    scaler = Scaler.fit(fit)
    lags = min(int(params.get("lags", 3)), fit.seq_len)
    z_fit, z_val = (_inputs(scaler, w.x, w.asset, lags) for w in (fit, val))
    y_fit, y_val = fit.fwd_ret / scaler.target_scale, val.fwd_ret / scaler.target_scale
    booster_params = {
        "objective": "regression",
        "learning_rate": float(params.get("learning_rate", 0.05)),
        "num_leaves": int(params.get("num_leaves", 15)),
        "min_data_in_leaf": int(params.get("min_child_samples", 50)),
        "feature_fraction": 0.8,
        "lambda_l2": 1.0,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads,
        "verbosity": -1,
    }
    train_set = lgb.Dataset(z_fit, y_fit, free_raw_data=True)
    val_set = lgb.Dataset(z_val, y_val, reference=train_set)
    booster = lgb.train(
        booster_params,
        train_set,
        num_boost_round=int(params.get("n_estimators", 400)),
        valid_sets=[val_set],
        callbacks=[lgb.early_stopping(30, verbose=False)],
    )
    # keep only the trees up to the best round, so saving and serving use exactly those
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration or -1))
    residual = (booster.predict(z_val, num_threads=1) - y_val) * scaler.target_scale
    return GbmModel(
        booster,
        float(np.sqrt(np.mean(residual**2))),
        feature_names=fit.feature_names,
        seq_len=fit.seq_len,
        horizon=fit.horizon,
        levels=levels,
        scaler=scaler,
        params={**{k: params[k] for k in params}, "lags": lags, "best_iteration": booster.num_trees()},
    )
