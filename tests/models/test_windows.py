"""Windows: the last seq_len known bars of one asset; warm-up and gaps dropped explicitly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.marts import align
from models.synthetic import make_world
from models.windows import make_windows


def test_window_holds_the_last_bars_up_to_its_decision_time() -> None:
    world = make_world(bars=120, warmup=24)
    marts = align(world.features, world.labels, 1)
    windows = make_windows(marts, seq_len=5)
    i = 10
    asset, t = windows.asset[i], pd.Timestamp(windows.bar_time[i])
    rows = marts.frame[(marts.frame["asset"] == asset) & (marts.frame["bar_time"] <= t)].tail(5)
    np.testing.assert_array_equal(windows.x[i], rows[list(marts.feature_names)].to_numpy())
    assert windows.fwd_ret[i] == rows["fwd_ret"].iloc[-1]


def test_warmup_rows_never_enter_a_window() -> None:
    world = make_world(bars=120, warmup=24)
    windows = make_windows(align(world.features, world.labels, 1), seq_len=5)
    assert np.isfinite(windows.x).all()
    first = pd.Timestamp(world.features["bar_time"].min())
    # features are known from bar 24 on; the first full window ends 4 bars later
    assert windows.bar_time.min() == first + pd.Timedelta(hours=24 + 4)
    assert windows.dropped["warmup_or_missing"] > 0


def test_a_gap_in_bars_breaks_windows_instead_of_joining_across_it() -> None:
    world = make_world(bars=120, assets=("BTC",))
    features = world.features.drop(index=60)  # one missing bar
    windows = make_windows(align(features, world.labels, 1), seq_len=5)
    gap_time = world.features.loc[60, "bar_time"]
    # no window may span the hole: the 4 bars after it cannot end a 5-bar window
    spans = (windows.bar_time > gap_time) & (windows.bar_time < gap_time + pd.Timedelta(hours=5))
    assert not spans.any()
    assert windows.dropped["gap"] == 4


def test_persistence_input_is_the_return_that_just_matured() -> None:
    world = make_world(bars=100, horizons=(3,))
    windows = make_windows(align(world.features, world.labels, 3), seq_len=2)
    labels = world.labels.set_index(["asset", "bar_time"])["fwd_ret_3"]
    i = 40
    earlier = pd.Timestamp(windows.bar_time[i]) - pd.Timedelta(hours=3)
    assert windows.past_ret[i] == labels.loc[(windows.asset[i], earlier)]
