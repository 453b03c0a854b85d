"""Where the ML assets keep what they hand each other: ``KIMERA_HOME/ml/<partition>/h<horizon>/``.

dataset.npz (windows), params/<model>.json (search results), predictions/<model>.parquet
(walk-forward val and test rows), final/<model>.json (registry tag of the model for use), folds.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kimera.settings import Settings


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @classmethod
    def of(cls, settings: Settings, partition: str, horizon: int) -> RunFolder:
        return cls(settings.home_dir / "ml" / partition / f"h{horizon}")

    @property
    def dataset(self) -> Path:
        return self.root / "dataset.npz"

    def params_path(self, model: str) -> Path:
        return self.root / "params" / f"{model}.json"

    def predictions_path(self, model: str) -> Path:
        return self.root / "predictions" / f"{model}.parquet"

    def final_path(self, model: str) -> Path:
        return self.root / "final" / f"{model}.json"

    def write_json(self, path: Path, value: Any) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str))
        tmp.replace(path)  # atomic: a reader never sees half a file
        return path

    def read_json(self, path: Path, what: str) -> Any:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: materialise {what} for this partition first")
        return json.loads(path.read_text())

    def write_predictions(self, model: str, frame: pd.DataFrame) -> Path:
        path = self.predictions_path(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
        return path

    def read_predictions(self, model: str) -> pd.DataFrame:
        path = self.predictions_path(model)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: materialise ml/{model} for this partition first")
        return pd.read_parquet(path)
