"""Reading ``marts.features`` and ``marts.labels`` (the dbt contract) into checked frames.

Contract (docs/contracts.md): one row per ``(asset, bar_time)``, ``bar_time`` the bar's close in
naive UTC; feature columns are DOUBLE and NULL during warm-up; labels carry ``fwd_ret_<h>`` and
``fwd_dir_<h>``, NULL where the future bar does not exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from kimera.sessions import Calendar, as_calendar, trading_bar_index
from models.columns import describe_dropped, usable_columns

KEY = ("asset", "bar_time")


class MartsError(ValueError):
    """Features or labels that break the contract; the message says what and what is expected."""


@dataclass(frozen=True)
class Marts:
    """Features and labels of the horizon, aligned on ``(asset, bar_time)`` and sorted by it."""

    frame: pd.DataFrame  # asset, bar_time, <features...>, fwd_ret, fwd_dir
    feature_names: tuple[str, ...]
    horizon: int
    dropped_features: dict[str, str] = field(default_factory=dict)  # left out, and why (models.columns)
    # asset -> session calendar (a kimera.sessions.Calendar or a weekly name); absent = 24/7
    sessions: dict[str, Calendar | str] = field(default_factory=dict)

    def bars_apart(self, asset: str, bar_time: np.ndarray, step: pd.Timedelta, k: int) -> np.ndarray:
        """For sorted bars of ``asset``: whether ``bar_time[i + k]`` is exactly ``k`` bars after
        ``bar_time[i]`` (one entry per ``i < n - k``). Bars count trading bars: for an asset whose
        market closes (``sessions``), a closed session or closed date between two bars is not a gap,
        a missing bar on an open day is; for a 24/7 asset it is ``k`` bar intervals of time."""
        t = np.asarray(bar_time, dtype="datetime64[us]")
        calendar = as_calendar(self.sessions.get(asset, "24/7"))
        if calendar.always_open:
            return t[k:] - t[: len(t) - k] == np.timedelta64(k * step)
        step_us = int(step / pd.Timedelta(microseconds=1))
        index = trading_bar_index(t.astype(np.int64), step_us, calendar)
        return index[k:] - index[: len(t) - k] == k

    @property
    def bar_times(self) -> np.ndarray:
        return np.sort(self.frame["bar_time"].unique())

    def until(self, end: datetime) -> Marts:
        """What was known strictly before ``end``: rows with bar_time < end, and labels whose
        future bar (bar_time + horizon bars) is not before ``end`` set to NULL, as dbt would."""
        frame = self.frame[self.frame["bar_time"] < pd.Timestamp(end)].copy()
        step = bar_step(frame)
        unknown = frame["bar_time"] + self.horizon * step >= pd.Timestamp(end)
        for asset, calendar in self.sessions.items():
            if as_calendar(calendar).always_open:
                continue
            # h trading bars ahead may lie past a closed session: known only if that bar is before end
            rows = (frame["asset"] == asset).to_numpy()
            close_us = frame.loc[rows, "bar_time"].to_numpy(dtype="datetime64[us]").astype(np.int64)
            index = trading_bar_index(close_us, int(step / pd.Timedelta(microseconds=1)), calendar)
            unknown.loc[rows] = ~np.isin(index + self.horizon, index)
        frame.loc[unknown, ["fwd_ret", "fwd_dir"]] = np.nan
        return Marts(
            frame.reset_index(drop=True),
            self.feature_names,
            self.horizon,
            self.dropped_features,
            self.sessions,
        )


def bar_step(frame: pd.DataFrame) -> pd.Timedelta:
    """The bar interval: the most common gap between consecutive bars of an asset."""
    gaps = frame.groupby("asset", sort=False)["bar_time"].diff().dropna()
    if gaps.empty:
        raise MartsError("need at least two bars of one asset to know the bar interval")
    return pd.Timedelta(gaps.mode().iloc[0])


def align(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    horizon: int,
    feature_names: list[str] | None = None,
    sessions: dict[str, Calendar | str] | None = None,
) -> Marts:
    """Join features and the horizon's labels on ``(asset, bar_time)`` after checking the contract.

    ``feature_names`` picks columns (default: every numeric column but the key that has values to
    learn from; the others are left out and named in ``dropped_features``). Raises
    :class:`MartsError` for a missing column, a duplicate key, a non-numeric feature, or a named
    column with no values (its source is absent). ``sessions`` maps assets whose markets close to
    their session calendar (kimera.sessions), so windows and label horizons count trading bars.
    """
    for name, frame in (("marts.features", features), ("marts.labels", labels)):
        missing = [c for c in KEY if c not in frame.columns]
        if missing:
            raise MartsError(f"{name} lacks key column(s) {missing}; expected (asset, bar_time)")
        dupes = int(frame.duplicated(list(KEY)).sum())
        if dupes:
            raise MartsError(f"{name} has {dupes} duplicate (asset, bar_time) row(s); expected one per bar")
    ret_col, dir_col = f"fwd_ret_{horizon}", f"fwd_dir_{horizon}"
    absent = [c for c in (ret_col, dir_col) if c not in labels.columns]
    if absent:
        have = sorted(c for c in labels.columns if c.startswith("fwd_"))
        raise MartsError(f"marts.labels has no {absent} for horizon {horizon}; it has {have}")
    if feature_names:
        unknown = [c for c in feature_names if c not in features.columns]
        if unknown:
            raise MartsError(f"feature(s) {unknown} not in marts.features; it has {list(features.columns)}")
        names = list(feature_names)
        empty = [c for c in names if features[c].notna().sum() == 0]
        if empty:
            raise MartsError(
                f"feature(s) {empty} of models.features are NULL on every bar of marts.features: their "
                "source is absent; remove them from models.features, or use [] for every column with values"
            )
        dropped: dict[str, str] = {}
    else:
        names = [c for c in features.columns if c not in KEY and pd.api.types.is_numeric_dtype(features[c])]
        names, dropped = usable_columns(features, names)
        if not names and dropped:
            raise MartsError(
                f"marts.features has no feature column to learn from: {describe_dropped(dropped)}"
            )
    if not names:
        raise MartsError("marts.features has no numeric feature column to learn from")
    bad = [c for c in names if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise MartsError(f"feature column(s) {bad} are not numeric; features must be DOUBLE")
    frame = features[[*KEY, *names]].merge(
        labels[[*KEY, ret_col, dir_col]].rename(columns={ret_col: "fwd_ret", dir_col: "fwd_dir"}),
        on=list(KEY),
        how="left",
        validate="one_to_one",
    )
    frame["bar_time"] = pd.to_datetime(frame["bar_time"]).astype("datetime64[us]")
    frame[names] = frame[names].astype("float64")
    frame["fwd_ret"] = frame["fwd_ret"].astype("float64")
    frame["fwd_dir"] = frame["fwd_dir"].astype("float64")
    frame = frame.sort_values(["asset", "bar_time"], kind="stable").reset_index(drop=True)
    return Marts(frame, tuple(names), horizon, dropped, dict(sessions or {}))


def read_marts(
    con,
    horizon: int,
    feature_names: list[str] | None = None,
    end: datetime | None = None,
    sessions: dict[str, Calendar | str] | None = None,
) -> Marts:
    """Read ``marts.features`` and ``marts.labels`` from a DuckDB connection, up to ``end`` (exclusive).

    When ``end`` is given, labels whose future bar lies at or after ``end`` are NULLed, so a
    model trained "as of end" never sees a return realised later.
    """
    for table in ("features", "labels"):
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' AND table_name = ?",
            [table],
        ).fetchone()[0]
        if not found:
            raise MartsError(f"marts.{table} does not exist: build the dbt marts first (kimera demo)")
    where, params = ("WHERE bar_time < ?", [end]) if end is not None else ("", [])
    features = con.execute(f"SELECT * FROM marts.features {where}", params).df()
    labels = con.execute(f"SELECT * FROM marts.labels {where}", params).df()
    marts = align(features, labels, horizon, feature_names, sessions)
    return marts.until(end) if end is not None else marts
