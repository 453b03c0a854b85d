"""Per-asset feature scaling, fit on the training window only, and the target's scale.

Each asset gets its own mean and standard deviation per feature (price levels differ by asset),
estimated from the bars of the fit part of a fold. The forward return is divided by one global
scale so the networks' losses are of order one. Everything is float64 arrays, saved exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.windows import Windows

_MIN_STD = 1e-12


class UnknownAssetError(ValueError):
    """A window of an asset the model was not trained on."""


@dataclass(frozen=True)
class Scaler:
    assets: tuple[str, ...]
    mean: np.ndarray  # (n_assets, n_features)
    std: np.ndarray  # (n_assets, n_features)
    target_scale: float

    @classmethod
    def fit(cls, windows: Windows) -> Scaler:
        """Fit on ``windows`` (the fit part of a fold): the newest bar of each window is one bar."""
        if len(windows) == 0:
            raise ValueError("cannot fit a scaler on no windows")
        last = windows.x[:, -1, :]
        assets = tuple(sorted(set(windows.asset.tolist())))
        mean = np.stack([last[windows.asset == a].mean(axis=0) for a in assets])
        std = np.stack([last[windows.asset == a].std(axis=0) for a in assets])
        std = np.where(std < _MIN_STD, 1.0, std)  # a constant feature carries nothing; keep it finite
        labelled = windows.fwd_ret[windows.labelled]
        scale = float(labelled.std()) if len(labelled) > 1 else 1.0
        return cls(assets, mean, std, scale if scale > _MIN_STD else 1.0)

    def rows(self, asset: np.ndarray) -> np.ndarray:
        lookup = {a: i for i, a in enumerate(self.assets)}
        try:
            return np.fromiter((lookup[a] for a in asset), dtype=np.int64, count=len(asset))
        except KeyError as exc:
            raise UnknownAssetError(
                f"asset {exc.args[0]!r} was not in the training data; the model knows {list(self.assets)}"
            ) from None

    def transform(self, x: np.ndarray, asset: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        """Scaled windows (float32 for the networks); ``x`` is (n, seq_len, n_features)."""
        idx = self.rows(asset)
        scaled = (x - self.mean[idx][:, None, :]) / self.std[idx][:, None, :]
        return scaled.astype(dtype, copy=False)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "assets": np.array(self.assets, dtype=str),
            "mean": self.mean,
            "std": self.std,
            "target_scale": np.array([self.target_scale]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Scaler:
        return cls(
            tuple(str(a) for a in arrays["assets"]),
            np.asarray(arrays["mean"], dtype=np.float64),
            np.asarray(arrays["std"], dtype=np.float64),
            float(arrays["target_scale"][0]),
        )
