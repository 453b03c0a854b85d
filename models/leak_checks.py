"""Checks that the future stays unseen, each run on a pipeline stage and its raw input.

Every check asks one question a leak cannot answer the honest way:

- ``feature_truncation``: rebuild the features from the raw rows known before ``t`` and compare
  every row with ``bar_time <= t`` to the full build (a feature shifted into the future, a centred
  window, a bar stamped before its own close all change there);
- ``label_alignment``: labels rebuilt from the raw rows before ``t`` must be NULL wherever their
  horizon ends after ``t``, and equal to the full build elsewhere (a label joined on the same bar
  is known at its own bar);
- ``prediction_truncation``: walk-forward predictions for bars before ``t`` are the same bits when
  everything after ``t`` is removed (a scaler or model fit on rows beyond its training window moves);
- ``fill_timing``: every fill lies strictly after the bar that signalled it, at a price that
  traded at the fill's time (a strategy filled at the signal bar's own close fails both).

Comparisons are exact (NaN equals NaN): the honest pipeline gives the same bits, so any difference
is information from after ``t``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

KEY = ["asset", "bar_time"]


@dataclass(frozen=True)
class Finding:
    """One check's verdict on one stage: ``leak`` is True when it saw information from the future."""

    check: str
    leak: bool
    detail: str


def _cut(raw: pd.DataFrame, time_column: str, t: pd.Timestamp) -> pd.DataFrame:
    return raw[raw[time_column] < t].reset_index(drop=True)


def _differences(early: pd.DataFrame, late: pd.DataFrame, columns: Sequence[str]) -> tuple[int, str]:
    """Rows of ``late`` (keyed like ``early``) that ``early`` lacks or holds other values for."""
    joined = late.merge(early, on=KEY, how="left", suffixes=("", "@cut"), indicator=True)
    missing = joined["_merge"] == "left_only"
    changed = np.zeros(len(joined), dtype=bool)
    for c in columns:
        a, b = joined[c].to_numpy(np.float64), joined[f"{c}@cut"].to_numpy(np.float64)
        changed |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
    bad = missing.to_numpy() | changed
    if not bad.any():
        return 0, ""
    first = joined[bad].iloc[0]
    what = "missing" if first["_merge"] == "left_only" else "different"
    return int(bad.sum()), f"first at {first['asset']} {first['bar_time']} ({what})"


def feature_truncation(
    build: Callable[[pd.DataFrame], pd.DataFrame], raw: pd.DataFrame, cuts: Sequence[pd.Timestamp],
    time_column: str = "ts",
) -> Finding:  # fmt: skip
    """Features ``build(raw)`` (asset, bar_time, columns...) against ``build`` of raw cut before each of
    ``cuts``: rows with bar_time <= t must be present and identical."""
    full = build(raw)
    columns = [c for c in full.columns if c not in KEY]
    for t in cuts:
        early = build(_cut(raw, time_column, t))
        n, where = _differences(early, full[full["bar_time"] <= t], columns)
        if n:
            return Finding(
                "feature_truncation",
                True,
                f"{n} feature row(s) at or before {t} change when raw after it is removed; {where}",
            )
    return Finding("feature_truncation", False, f"rows up to each of {len(cuts)} cuts unchanged")


def label_alignment(
    build: Callable[[pd.DataFrame], pd.DataFrame], raw: pd.DataFrame, cuts: Sequence[pd.Timestamp],
    horizon: int, step: pd.Timedelta, time_column: str = "ts",
) -> Finding:  # fmt: skip
    """Labels ``build(raw)`` (asset, bar_time, fwd_ret) against ``build`` of raw cut before each bar
    boundary in ``cuts``: a label is known only once its horizon has closed (bar_time + horizon bars
    <= t), so it must be NULL after that and equal to the full build before it."""
    full = build(raw)
    for t in cuts:
        early = build(_cut(raw, time_column, t))
        open_horizon = early["bar_time"] + horizon * step > t
        premature = early[open_horizon & early["fwd_ret"].notna()]
        if len(premature):
            first = premature.iloc[0]
            return Finding(
                "label_alignment",
                True,
                f"{len(premature)} label(s) known before their {horizon}-bar horizon closed at cut {t}; "
                f"first at {first['asset']} {first['bar_time']}: the label is joined on too early a bar",
            )
        closed = full[full["bar_time"] + horizon * step <= t]
        n, where = _differences(early, closed, ["fwd_ret"])
        if n:
            return Finding(
                "label_alignment", True, f"{n} closed label(s) change with the cut at {t}; {where}"
            )
    return Finding("label_alignment", False, f"labels NULL until their horizon closes, at {len(cuts)} cuts")


def prediction_truncation(
    predict: Callable[[pd.DataFrame], pd.DataFrame], raw: pd.DataFrame, cut: pd.Timestamp,
    before: pd.Timestamp, time_column: str = "ts",
) -> Finding:  # fmt: skip
    """Predictions ``predict(raw)`` (asset, bar_time, window, part, forecast, ...) of the walk-forward
    windows that end before ``before`` must be the same bits when ``predict`` sees only the raw rows
    before ``cut``."""
    full = predict(raw)
    early = predict(_cut(raw, time_column, cut))
    keep = ["window", "part", *KEY, "forecast", "p_up", "lower", "upper"]
    # whole walk-forward windows that end before ``before``: a later window's fold needs later data
    ends = full.groupby("window")["bar_time"].max()
    closed = ends[ends < before].index
    full, early = full[full["window"].isin(closed)], early[early["window"].isin(closed)]
    full = (
        full.loc[full["bar_time"] < before, keep].sort_values(["window", "part", *KEY]).reset_index(drop=True)
    )
    early = (
        early.loc[early["bar_time"] < before, keep]
        .sort_values(["window", "part", *KEY])
        .reset_index(drop=True)
    )
    if full.empty:
        return Finding(
            "prediction_truncation",
            True,
            f"no prediction before {before} to compare: the check could not run",
        )
    merged = full.merge(early, on=["window", "part", *KEY], how="left", suffixes=("", "@cut"))
    changed = merged["forecast@cut"].isna() | (merged["forecast"] != merged["forecast@cut"])
    for c in ("p_up", "lower", "upper"):
        changed |= merged[c] != merged[f"{c}@cut"]
    if changed.any():
        first = merged[changed].iloc[0]
        return Finding(
            "prediction_truncation",
            True,
            f"{int(changed.sum())} of {len(merged)} prediction(s) before {before} change when raw from "
            f"{cut} on is removed; first at {first['asset']} {first['bar_time']} (window {first['window']}): "
            "something was fit on rows beyond its training window",
        )
    return Finding("prediction_truncation", False, f"{len(merged)} predictions before {before} bit-identical")


def fill_timing(fills: pd.DataFrame, prices: pd.DataFrame, time_column: str = "ts") -> Finding:
    """Fills (asset, signal_time, fill_time, price) against traded ``prices`` (asset, ts, price): each
    fill strictly after its signal bar's close, at a price that traded at its fill time."""
    if fills.empty:
        return Finding("fill_timing", True, "no fill to check: the check could not run")
    early = fills[fills["fill_time"] <= fills["signal_time"]]
    if len(early):
        first = early.iloc[0]
        return Finding(
            "fill_timing",
            True,
            f"{len(early)} of {len(fills)} fill(s) at or before the close of the bar that signalled them; "
            f"first {first['asset']} signal {first['signal_time']} filled {first['fill_time']}",
        )
    traded = prices.rename(columns={time_column: "fill_time", "price": "traded"})[
        ["asset", "fill_time", "traded"]
    ]
    joined = fills.merge(traded, on=["asset", "fill_time"], how="left")
    off = joined[joined["traded"].isna() | (joined["traded"] != joined["price"])]
    if len(off):
        first = off.iloc[0]
        return Finding(
            "fill_timing",
            True,
            f"{len(off)} of {len(fills)} fill(s) at a price that did not trade at the fill time; first "
            f"{first['asset']} {first['fill_time']} at {first['price']} (traded {first['traded']})",
        )
    return Finding("fill_timing", False, f"{len(fills)} fills after their signal bar, at traded prices")
