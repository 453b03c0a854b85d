"""A small world of the marts' shape with a planted, known signal, for tests and benchmarks.

The next bar's log return is ``r = sigma_t * (strength * s_t + eps)`` where ``s_t`` (the feature
``flow_z``, known at the bar's close) is the signal and ``eps`` standard noise; other features are
noise or plain price history. The Bayes-optimal direction forecaster predicts ``sign(s_t)`` and is
right with probability ``Phi(strength * |s_t| / sqrt(h))`` over a horizon of h bars. Strength 0
is a martingale. The ``truth`` frame is for evaluation only, never a model input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm


@dataclass(frozen=True)
class World:
    features: pd.DataFrame  # asset, bar_time, features (NaN during warm-up)
    labels: pd.DataFrame  # asset, bar_time, fwd_ret_<h>, fwd_dir_<h>
    truth: pd.DataFrame  # asset, bar_time, oracle_up, bayes_p_correct (for the first horizon)
    bayes_accuracy: float


def make_world(
    bars: int = 2000,
    assets: tuple[str, ...] = ("BTC", "ETH"),
    strength: float = 0.3,
    horizons: tuple[int, ...] = (1,),
    seed: int = 0,
    start: str = "2026-01-01 01:00",
    warmup: int = 24,
) -> World:
    """Hourly bars for ``assets`` with the signal planted at ``strength`` (0: nothing to predict)."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=bars, freq="1h").astype("datetime64[us]")
    feature_rows, label_rows, truth_rows = [], [], []
    h0 = horizons[0]
    for asset in assets:
        sigma = 0.006 * np.exp(0.3 * np.sin(np.arange(bars) / 150.0) + 0.1 * rng.standard_normal(bars))
        signal = rng.standard_normal(bars)
        noise = rng.standard_normal(bars)
        # r[t] is the log return from close t to close t+1: it follows the signal seen at t
        r = sigma * (strength * signal + noise)
        past = np.concatenate([[np.nan], r[:-1]])  # the last bar's return, known at close t
        vol = pd.Series(past).rolling(warmup).std().to_numpy()
        frame = pd.DataFrame(
            {
                "asset": asset,
                "bar_time": times,
                "ret_1": past,
                "ret_4": pd.Series(past).rolling(4).sum().to_numpy(),
                "vol_24": vol,
                "flow_z": signal,
                "noise_a": rng.standard_normal(bars),
                "volume_z": 1.0 + 0.5 * rng.standard_normal(bars) + (0.2 if asset == assets[0] else 0.0),
            }
        )
        frame.loc[: warmup - 1, ["ret_1", "ret_4", "vol_24", "flow_z", "noise_a", "volume_z"]] = np.nan
        feature_rows.append(frame)
        labels = {"asset": asset, "bar_time": times}
        for h in horizons:
            fwd = pd.Series(r).rolling(h).sum().shift(-(h - 1)).to_numpy().copy()
            fwd[bars - h :] = np.nan  # the future bar does not exist yet
            labels[f"fwd_ret_{h}"] = fwd
            labels[f"fwd_dir_{h}"] = np.where(np.isnan(fwd), np.nan, (fwd > 0).astype(float))
        label_rows.append(pd.DataFrame(labels))
        truth_rows.append(
            pd.DataFrame(
                {
                    "asset": asset,
                    "bar_time": times,
                    "oracle_up": (signal > 0).astype(float) if strength > 0 else np.ones(bars),
                    "bayes_p_correct": norm.cdf(strength * np.abs(signal) / np.sqrt(h0)),
                }
            )
        )
    truth = pd.concat(truth_rows, ignore_index=True)
    return World(
        features=pd.concat(feature_rows, ignore_index=True),
        labels=pd.concat(label_rows, ignore_index=True),
        truth=truth,
        bayes_accuracy=float(truth["bayes_p_correct"].mean()),
    )
