"""The promoted model inside the loop: windows of online features in, predictions out.

:class:`PromotedModel` loads the model that ``KIMERA_HOME/serving/promoted.json`` names (the gate
is its only writer) and checks the pointer at every bar (a ``stat``): when the gate promotes
another model, the new one is loaded and swapped in between two bars, without a restart. A pointer
that names a model the store cannot load keeps the old model serving and says why.

:class:`FeatureWindows` keeps each asset's last ``seq_len`` bars of the model's features. A window
is complete only when its bars are consecutive and every value is known, the rule the batch
windows follow (``models.windows``); an incomplete one is never predicted on.

A model is **stale** when the bar it is asked about is more than ``max_age`` after the end of
its training data: it still predicts (the prediction is recorded), but the prediction is marked
and is not traded.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from kimera.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    prediction_id: str
    model_tag: str
    asset: str
    feature_time: datetime
    horizon: int
    forecast: float
    lower: float
    upper: float
    p_up: float
    stale: str | None = None
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class _Loaded:
    tag: str
    model: Any  # models.base.Model
    trained_until: datetime
    pointer_mtime_ns: int


def prediction_id(model_tag: str, asset: str, feature_time: datetime) -> str:
    """The same id for the same model, asset and bar, whoever computes it and however often: a loop
    that restarts and predicts a bar again sends the same signal id, which the service ignores."""
    import hashlib

    text = f"{model_tag}|{asset}|{feature_time.isoformat()}"
    return "live-" + hashlib.sha256(text.encode()).hexdigest()[:26]


class PromotedModel:
    def __init__(self, settings: Settings, max_age: timedelta | None = None) -> None:
        from models.promoted import pointer_path

        self.settings = settings
        self.pointer = pointer_path(settings)
        self.max_age = max_age
        self.loaded: _Loaded | None = None
        self.swaps = 0
        self.last_error: str | None = None

    def refresh(self) -> bool:
        """Load the promoted model if the pointer changed; True when a new model was swapped in."""
        from models.promoted import read_promoted
        from models.registry import get_model
        from models.serialize import load_folder

        try:
            mtime = self.pointer.stat().st_mtime_ns
        except FileNotFoundError:
            self.last_error = f"nothing promoted yet ({self.pointer} does not exist)"
            return False
        if self.loaded is not None and mtime == self.loaded.pointer_mtime_ns:
            return False
        try:
            promoted = read_promoted(self.settings)
            if self.loaded is not None and promoted is not None and promoted.tag == self.loaded.tag:
                self.loaded.pointer_mtime_ns = mtime
                return False
            stored = get_model(promoted.tag, self.settings)  # type: ignore[union-attr]
            model = load_folder(stored.path)
            end = datetime.fromisoformat(str(stored.metadata["data_window"]["end"]))
        except Exception as exc:  # the old model keeps serving; the reason is kept and logged
            self.last_error = f"the promoted model could not be loaded: {exc}"
            log.error("%s", self.last_error)
            return False
        swapped = self.loaded is not None
        self.loaded = _Loaded(stored.tag, model, end.replace(tzinfo=None), mtime)
        self.swaps += swapped
        self.last_error = None
        log.info("serving %s%s", stored.tag, " (hot-swapped)" if swapped else "")
        return True

    @property
    def tag(self) -> str | None:
        return self.loaded.tag if self.loaded else None

    def predict(self, windows: dict[str, np.ndarray], feature_time: datetime) -> list[Prediction]:
        """One prediction per asset whose window is complete (``windows``: asset -> (seq_len, n))."""
        if self.loaded is None or not windows:
            return []
        model = self.loaded.model
        assets = sorted(windows)
        forecast = model.predict(np.stack([windows[a] for a in assets]), assets)
        stale = None
        if self.max_age is not None and feature_time - self.loaded.trained_until > self.max_age:
            age = feature_time - self.loaded.trained_until
            stale = (
                f"model {self.loaded.tag} trained until {self.loaded.trained_until}, {age} before this bar"
            )
        return [
            Prediction(
                prediction_id=prediction_id(self.loaded.tag, asset, feature_time),
                model_tag=self.loaded.tag,
                asset=asset,
                feature_time=feature_time,
                horizon=model.horizon,
                forecast=float(forecast.ret[i]),
                lower=float(forecast.lower[i]),
                upper=float(forecast.upper[i]),
                p_up=float(forecast.p_up[i]),
                stale=stale,
            )
            for i, asset in enumerate(assets)
        ]


class FeatureWindows:
    """Each asset's last ``seq_len`` bars of ``features``; complete windows only."""

    def __init__(self, features: list[str], seq_len: int, bar: timedelta) -> None:
        self.features, self.seq_len, self.bar = list(features), int(seq_len), bar
        self._bars: dict[str, deque[tuple[datetime, list[float]]]] = {}

    def reshape(self, features: list[str], seq_len: int) -> None:
        """A swapped-in model with other features or length: start its windows afresh."""
        if list(features) != self.features or int(seq_len) != self.seq_len:
            self.features, self.seq_len = list(features), int(seq_len)
            self._bars.clear()

    def add(self, asset: str, bar_time: datetime, values: dict[str, Any]) -> None:
        row = [_number(values.get(f)) for f in self.features]
        self._bars.setdefault(asset, deque(maxlen=self.seq_len)).append((bar_time, row))

    def complete(self, bar_time: datetime) -> dict[str, np.ndarray]:
        """asset -> window ending at ``bar_time``, for assets whose window is complete."""
        out = {}
        for asset, bars in self._bars.items():
            if len(bars) < self.seq_len or bars[-1][0] != bar_time:
                continue
            times = [t for t, _ in bars]
            if any(b - a != self.bar for a, b in zip(times, times[1:], strict=False)):
                continue
            x = np.array([row for _, row in bars], dtype=np.float64)
            if np.isfinite(x).all():
                out[asset] = x
        return out


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value)
