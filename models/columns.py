"""Which feature columns a model can learn from: the ones the user's sources actually filled.

A user with candles only has no trade, book or chain data, so those columns of ``marts.features``
are NULL on every bar; keeping them would drop every input window (a window needs every feature).
Columns NULL on most bars, or the same on every bar, carry nothing to learn: they are left out, and
the reason for each is kept so the training says which ones and why.
"""

from __future__ import annotations

import pandas as pd

MIN_KNOWN_SHARE = 0.5  # a column NULL on more than half the bars is left out


def usable_columns(features: pd.DataFrame, names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The columns of ``names`` worth learning from, and the others with the reason each was left out.

    Left out: a column with no value at all (its source is absent), one known on fewer than half
    the bars (a warm-up longer than the data), and one with a single value throughout (constant).
    """
    kept: list[str] = []
    dropped: dict[str, str] = {}
    rows = len(features)
    for name in names:
        column = features[name]
        known = int(column.notna().sum())
        if known == 0:
            dropped[name] = "NULL on every bar (its source is absent)"
        elif known < MIN_KNOWN_SHARE * rows:
            dropped[name] = f"NULL on {rows - known} of {rows} bars"
        elif column.nunique(dropna=True) <= 1:
            dropped[name] = f"constant ({column.dropna().iloc[0]!r} on every bar)"
        else:
            kept.append(name)
    return kept, dropped


def describe_dropped(dropped: dict[str, str]) -> str:
    """``left out 3 feature column(s): vwap_dev (NULL on every bar ...), ...``; '' when none."""
    if not dropped:
        return ""
    reasons = ", ".join(f"{name} ({why})" for name, why in dropped.items())
    return f"left out {len(dropped)} feature column(s): {reasons}"
