"""Walk-forward splits: purged, embargoed, anchored, and no label crosses into a later part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.splits import WalkForward

HOUR = np.timedelta64(1, "h")


def _times(n: int) -> np.ndarray:
    return pd.date_range("2026-01-01", periods=n, freq="1h").to_numpy().astype("datetime64[us]")


@pytest.mark.parametrize(("horizon", "embargo"), [(1, 0), (4, 0), (24, 6)])
def test_no_label_of_an_earlier_part_reaches_a_later_one(horizon: int, embargo: int) -> None:
    scheme = WalkForward(train_bars=300, val_bars=60, test_bars=50, horizon=horizon, embargo_bars=embargo)
    folds = scheme.folds(_times(1000))
    assert len(folds) >= 5
    for fold in folds:
        last_fit, last_val = fold.fit[1] - HOUR, fold.val[1] - HOUR
        # the label of bar t is realised at t + horizon: it must come before the next part starts
        assert last_fit + horizon * HOUR < fold.val[0]
        assert last_val + horizon * HOUR < fold.test[0]
        assert (fold.val[0] - fold.fit[1]) // HOUR == horizon + 1 + embargo
        assert (fold.test[0] - fold.val[1]) // HOUR == horizon + 1 + embargo


def test_folds_slide_by_the_test_window_and_tile_the_test_bars() -> None:
    scheme = WalkForward(train_bars=200, val_bars=40, test_bars=30, horizon=1)
    folds = scheme.folds(_times(500))
    for a, b in zip(folds, folds[1:], strict=False):
        assert b.test[0] == a.test[1]
        assert b.fit[0] - a.fit[0] == 30 * HOUR
    expanding = WalkForward(train_bars=200, val_bars=40, test_bars=30, horizon=1, expanding=True).folds(
        _times(500)
    )
    assert all(f.fit[0] == expanding[0].fit[0] for f in expanding)


def test_removing_later_data_leaves_earlier_folds_unchanged() -> None:
    scheme = WalkForward(train_bars=200, val_bars=40, test_bars=30, horizon=2)
    full = scheme.folds(_times(600))
    cut = scheme.folds(_times(600)[:400])
    assert cut == full[: len(cut)]


def test_too_little_data_names_the_bars_needed() -> None:
    scheme = WalkForward(train_bars=200, val_bars=40, test_bars=30, horizon=1)
    with pytest.raises(ValueError, match="needs at least 232 bars.*found 100"):
        scheme.folds(_times(100))
    with pytest.raises(ValueError, match="val_bars"):
        WalkForward(train_bars=50, val_bars=49, test_bars=10, horizon=1)


def test_final_window_ends_at_the_newest_labelled_bar() -> None:
    scheme = WalkForward(train_bars=200, val_bars=40, test_bars=30, horizon=1)
    times = _times(500)
    final = scheme.final(times)
    assert final.val[1] == times[-1] + HOUR
    assert (final.val[1] - final.fit[0]) // HOUR == 200
