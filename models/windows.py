"""Input windows: the last ``seq_len`` bars of features of one asset, ending at a bar's close.

A window is kept only when its bars are consecutive trading bars (no gap in ``bar_time``; for an
asset whose market closes, a closed session between two bars is not a gap, while a missing bar
inside a session is) and every feature in it is known: warm-up rows (NULL features) and gaps are
dropped explicitly and counted, never filled.
The target of the window ending at ``t`` is the label ``fwd_ret`` of ``t`` (close t to close t+h).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from models.marts import Marts, bar_step


@dataclass(frozen=True)
class Windows:
    """Windows and what is known about each; every array has one entry per window."""

    x: np.ndarray  # (n, seq_len, n_features) float64, raw (unscaled)
    asset: np.ndarray  # (n,) str
    bar_time: np.ndarray  # (n,) datetime64[us], the close the window ends at (decision time)
    fwd_ret: np.ndarray  # (n,) realised forward log return over the horizon; NaN when not yet known
    past_ret: np.ndarray  # (n,) realised log return over the last h bars, known at bar_time (NaN if not)
    feature_names: tuple[str, ...]
    seq_len: int
    horizon: int
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.bar_time)

    @property
    def up(self) -> np.ndarray:
        """1.0 where the forward return is positive, 0.0 where not, NaN where unknown."""
        return np.where(np.isnan(self.fwd_ret), np.nan, (self.fwd_ret > 0).astype(np.float64))

    @property
    def labelled(self) -> np.ndarray:
        return ~np.isnan(self.fwd_ret)

    def take(self, index: np.ndarray) -> Windows:
        return replace(
            self,
            x=self.x[index],
            asset=self.asset[index],
            bar_time=self.bar_time[index],
            fwd_ret=self.fwd_ret[index],
            past_ret=self.past_ret[index],
        )

    def select(self, names: tuple[str, ...] | list[str]) -> Windows:
        """The same windows with only the features ``names`` (in that order)."""
        names = tuple(names)
        if names == self.feature_names:
            return self
        missing = [n for n in names if n not in self.feature_names]
        if missing:
            raise ValueError(
                f"features {missing} are not in the windows, which have {list(self.feature_names)}"
            )
        index = [self.feature_names.index(n) for n in names]
        return replace(self, x=np.ascontiguousarray(self.x[:, :, index]), feature_names=names)

    def lags(self, k: int) -> np.ndarray:
        """The last ``k`` bars of each window, flattened (newest last): input of the tabular models."""
        k = min(k, self.seq_len)
        return self.x[:, -k:, :].reshape(len(self), -1)


def make_windows(marts: Marts, seq_len: int) -> Windows:
    """Every complete window of ``seq_len`` consecutive, fully known bars, per asset."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    frame = marts.frame
    names = list(marts.feature_names)
    step = bar_step(frame)
    xs, assets, times, fwd, past = [], [], [], [], []
    dropped = {"warmup_or_missing": 0, "gap": 0, "short_history": 0}
    for asset, rows in frame.groupby("asset", sort=True):
        values = rows[names].to_numpy(dtype=np.float64)
        t = rows["bar_time"].to_numpy(dtype="datetime64[us]")
        n = len(rows)
        if n < seq_len:
            dropped["short_history"] += n
            continue
        known = ~np.isnan(values).any(axis=1)
        # consecutive trading bars: a closed session between them is not a gap (marts.sessions)
        steady = np.concatenate([[False], marts.bars_apart(asset, t, step, 1)])
        # window ending at i needs rows i-L+1..i known, and L-1 steady steps inside it
        known_all = sliding_window_view(known, seq_len).all(axis=1)
        steady_all = (
            sliding_window_view(steady[1:], seq_len - 1).all(axis=1) if seq_len > 1 else np.ones(n, bool)
        )
        ok = known_all & steady_all
        dropped["short_history"] += seq_len - 1
        dropped["warmup_or_missing"] += int((~known_all).sum())
        dropped["gap"] += int((known_all & ~steady_all).sum())
        ends = np.arange(seq_len - 1, n)[ok]
        xs.append(sliding_window_view(values, seq_len, axis=0)[ok].transpose(0, 2, 1))
        assets.append(np.full(len(ends), asset, dtype=object))
        times.append(t[ends])
        ret = rows["fwd_ret"].to_numpy(dtype=np.float64)
        fwd.append(ret[ends])
        # the label of t - h matures exactly at t: it is the return over the last h bars
        h = marts.horizon
        lagged = np.full(n, np.nan)
        if n > h:
            same = marts.bars_apart(asset, t, step, h)
            lagged[h:] = np.where(same, ret[:-h], np.nan)
        past.append(lagged[ends])
    if not xs:
        raise ValueError(f"no asset has {seq_len} consecutive bars with every feature known")
    return Windows(
        x=np.ascontiguousarray(np.concatenate(xs)),
        asset=np.concatenate(assets),
        bar_time=np.concatenate(times),
        fwd_ret=np.concatenate(fwd),
        past_ret=np.concatenate(past),
        feature_names=marts.feature_names,
        seq_len=seq_len,
        horizon=marts.horizon,
        dropped=dropped,
    )


def windows_frame(windows: Windows) -> pd.DataFrame:
    """Key columns of the windows, for joining predictions to truth or plots."""
    return pd.DataFrame({"asset": windows.asset, "bar_time": windows.bar_time, "fwd_ret": windows.fwd_ret})


def save_windows(windows: Windows, path) -> None:
    """Write windows to one ``.npz`` (no pickle): arrays plus the feature names and sizes."""
    import json

    np.savez(
        path,
        x=windows.x,
        asset=windows.asset.astype(str),
        bar_time=windows.bar_time.astype("datetime64[us]").astype(np.int64),
        fwd_ret=windows.fwd_ret,
        past_ret=windows.past_ret,
        meta=np.array(
            json.dumps(
                {
                    "feature_names": list(windows.feature_names),
                    "seq_len": windows.seq_len,
                    "horizon": windows.horizon,
                    "dropped": windows.dropped,
                }
            )
        ),
    )


def load_windows(path) -> Windows:
    """Windows written by :func:`save_windows`, identical to what was saved."""
    import json

    with np.load(path, allow_pickle=False) as a:
        meta = json.loads(str(a["meta"]))
        return Windows(
            x=a["x"],
            asset=a["asset"].astype(object),
            bar_time=a["bar_time"].astype("datetime64[us]"),
            fwd_ret=a["fwd_ret"],
            past_ret=a["past_ret"],
            feature_names=tuple(meta["feature_names"]),
            seq_len=int(meta["seq_len"]),
            horizon=int(meta["horizon"]),
            dropped=dict(meta["dropped"]),
        )
