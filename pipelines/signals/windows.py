"""The newest input windows per asset, from ``marts.features``, for the served model's features."""

from __future__ import annotations

from datetime import datetime

import numpy as np


def recent_windows(
    con,
    *,
    features: list[str],
    seq_len: int,
    horizon: int,
    assets: list[str],
    after: dict[str, datetime],
    default_after: datetime,
    max_bars: int,
    sessions: dict | None = None,  # asset -> kimera.sessions.Calendar
):
    """Complete windows ending after ``after[asset]`` (else ``default_after``), the last ``max_bars`` per asset.

    Only windows whose every bar is known (no warm-up NULL, no gap) are made; see models.windows.
    """
    from models.marts import read_marts
    from models.windows import make_windows

    windows = make_windows(read_marts(con, horizon, features, sessions=sessions), seq_len)
    keep: list[np.ndarray] = []
    for asset in assets:
        since = np.datetime64(after.get(asset, default_after), "us")
        index = np.flatnonzero((windows.asset == asset) & (windows.bar_time > since))
        keep.append(index[np.argsort(windows.bar_time[index], kind="stable")][-max_bars:])
    return windows.take(np.concatenate(keep) if keep else np.empty(0, dtype=np.int64))
