"""The ensemble: a convex combination of its members, weights chosen on validation data only.

Weights minimise the log loss of the blended P(up) on the validation part of the training window
(never a test window); the same weights blend the return forecasts and the quantiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize

from models.base import Model, ModelFileError, common_args, read_config, read_scaler
from models.forecast import Forecast, blend

_EPS = 1e-6


def fit_weights(p_up: list[np.ndarray], up: np.ndarray) -> np.ndarray:
    """Convex weights (softmax-parametrised) minimising the log loss of sum(w * p_up) against ``up``."""
    stacked = np.clip(np.stack(p_up, axis=1), _EPS, 1 - _EPS)

    def loss(logits: np.ndarray) -> float:
        w = np.exp(logits - logits.max())
        w /= w.sum()
        p = np.clip(stacked @ w, _EPS, 1 - _EPS)
        return float(-np.mean(up * np.log(p) + (1 - up) * np.log(1 - p)))

    result = minimize(loss, np.zeros(stacked.shape[1]), method="L-BFGS-B")
    w = np.exp(result.x - result.x.max())
    return w / w.sum()


class EnsembleModel(Model):
    """Members (name -> model) blended with fixed weights."""

    kind: ClassVar[str] = "ensemble"

    def __init__(self, members: dict[str, Model], weights: dict[str, float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.members = dict(members)
        self.weights = {name: float(weights[name]) for name in self.members}

    def _predict(self, x: np.ndarray, asset: np.ndarray) -> Forecast:
        # each member reads its own features (screened on its training window) out of the union
        columns = {name: i for i, name in enumerate(self.feature_names)}
        forecasts = [
            m.predict(x[:, :, [columns[f] for f in m.feature_names]], asset) for m in self.members.values()
        ]
        return blend(forecasts, np.array(list(self.weights.values())))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "members": list(self.members), "weights": self.weights}

    def _save_weights(self, folder: Path) -> None:
        for name, member in self.members.items():
            member.save(folder / "members" / name)

    @classmethod
    def _load(cls, folder: Path, config: dict[str, Any], scaler) -> EnsembleModel:
        from models.serialize import load_folder

        members = {}
        for name in config["members"]:
            sub = folder / "members" / name
            if not sub.is_dir():
                raise ModelFileError(f"{sub} not found: ensemble member {name!r} is missing")
            members[name] = load_folder(sub)
        return cls(members, config["weights"], **common_args(config, scaler))


def make_ensemble(
    members: dict[str, Model], val_forecasts: dict[str, Forecast], val_up: np.ndarray
) -> EnsembleModel:
    """Ensemble of ``members`` with weights fit on their forecasts of the validation windows."""
    return ensemble_from_p_up(members, {n: f.p_up for n, f in val_forecasts.items()}, val_up)


def ensemble_from_p_up(
    members: dict[str, Model], p_up: dict[str, np.ndarray], up: np.ndarray
) -> EnsembleModel:
    """Ensemble of ``members`` with weights fit on their P(up) (``p_up[name]``) against outcomes ``up``."""
    names = list(members)
    weights = fit_weights([p_up[n] for n in names], up)
    first = members[names[0]]
    used = dict.fromkeys(f for m in members.values() for f in m.feature_names)  # union, in order
    return EnsembleModel(
        members,
        dict(zip(names, weights.tolist(), strict=True)),
        feature_names=tuple(used),
        seq_len=first.seq_len,
        horizon=first.horizon,
        levels=first.levels,
        scaler=first.scaler,
        params={"members": names},
    )


__all__ = ["EnsembleModel", "fit_weights", "make_ensemble", "read_config", "read_scaler"]
