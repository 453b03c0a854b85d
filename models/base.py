"""The one interface every trained model has: predict from raw windows, and save to / load from files."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.forecast import Forecast
from models.scaling import Scaler
from models.windows import Windows


class ModelFileError(ValueError):
    """Model files that cannot be loaded: missing, of another kind, or from an incompatible version."""


class Model(ABC):
    """A trained forecaster of the forward log return over ``horizon`` bars.

    ``predict`` takes raw (unscaled) windows, shape (n, seq_len, n_features) in the order of
    ``feature_names``, and the asset of each window; it is deterministic and runs on CPU.
    """

    kind: ClassVar[str]

    def __init__(
        self,
        feature_names: tuple[str, ...],
        seq_len: int,
        horizon: int,
        levels: tuple[float, ...],
        scaler: Scaler,
        params: dict[str, Any],
    ) -> None:
        self.feature_names = tuple(feature_names)
        self.seq_len = int(seq_len)
        self.horizon = int(horizon)
        self.levels = tuple(float(q) for q in levels)
        self.scaler = scaler
        self.params = dict(params)

    # --- prediction -------------------------------------------------------------------------------
    def predict(self, x: np.ndarray, asset: np.ndarray | list[str]) -> Forecast:
        """Forecasts for raw windows ``x`` (n, seq_len, n_features) of the given assets."""
        x = np.asarray(x, dtype=np.float64)
        asset = np.asarray(asset, dtype=object)
        expected = (self.seq_len, len(self.feature_names))
        if x.ndim != 3 or x.shape[1:] != expected:
            raise ValueError(
                f"windows must have shape (n, {expected[0]}, {expected[1]}) = (n, seq_len, features "
                f"{list(self.feature_names)}), got {x.shape}"
            )
        if len(asset) != len(x):
            raise ValueError(f"got {len(x)} windows but {len(asset)} assets; give one asset per window")
        if not np.isfinite(x).all():
            raise ValueError(
                "windows contain NaN or infinite values; every feature of every bar must be known"
            )
        if len(x) == 0:
            n = len(self.levels)
            return Forecast(np.empty(0), np.empty((0, n)), np.empty(0), self.levels)
        return self._predict(x, asset)

    def predict_windows(self, windows: Windows) -> Forecast:
        """Forecasts for ``windows``; they may carry more features than the model uses (it picks its own)."""
        if not set(self.feature_names) <= set(windows.feature_names):
            raise ValueError(
                f"windows have features {list(windows.feature_names)}, the model was trained on "
                f"{list(self.feature_names)}"
            )
        windows = windows.select(self.feature_names)
        return self.predict(windows.x, windows.asset)

    @abstractmethod
    def _predict(self, x: np.ndarray, asset: np.ndarray) -> Forecast: ...

    # --- files ------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The config saved beside the weights: enough to rebuild the model exactly."""
        return {
            "kind": self.kind,
            "feature_names": list(self.feature_names),
            "seq_len": self.seq_len,
            "horizon": self.horizon,
            "levels": list(self.levels),
            "params": self.params,
        }

    def save(self, folder: Path) -> None:
        """Write ``config.json``, ``scaler.npz`` and the kind's own files into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.describe(), indent=2, sort_keys=True))
        np.savez(folder / "scaler.npz", **self.scaler.to_arrays())
        self._save_weights(folder)

    @abstractmethod
    def _save_weights(self, folder: Path) -> None: ...

    @classmethod
    @abstractmethod
    def _load(cls, folder: Path, config: dict[str, Any], scaler: Scaler) -> Model: ...


def read_config(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelFileError(f"{path} not found: not a saved Kimera model folder")
    return json.loads(path.read_text())


def read_scaler(folder: Path) -> Scaler:
    path = Path(folder) / "scaler.npz"
    if not path.is_file():
        raise ModelFileError(f"{path} not found: the model's scaler is missing")
    with np.load(path, allow_pickle=False) as arrays:
        return Scaler.from_arrays(dict(arrays))


def common_args(config: dict[str, Any], scaler: Scaler) -> dict[str, Any]:
    return {
        "feature_names": tuple(config["feature_names"]),
        "seq_len": config["seq_len"],
        "horizon": config["horizon"],
        "levels": tuple(config["levels"]),
        "scaler": scaler,
        "params": config["params"],
    }
