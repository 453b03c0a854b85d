"""Models on partial data: columns of absent sources are left out by name, never a silent crash.

A user with candles only has NULL trade, book and chain columns in marts.features; training used
to drop every window for them ("walk-forward needs at least ... bars, found 0").
"""

from __future__ import annotations

import numpy as np
import pytest

from models.marts import MartsError, align
from models.synthetic import make_world
from models.walk_forward import evaluation_folds
from models.windows import make_windows

from .conftest import small_config


@pytest.fixture(scope="module")
def world():
    return make_world(bars=900, strength=0.3, horizons=(1,))


def _partial(world):
    features = world.features.copy()
    features["vwap_dev"] = np.nan  # no trades
    features["exchange_inflow"] = 0.0  # constant: a flow with no labelled wallets
    features["net_exchange_flow_z"] = np.where(np.arange(len(features)) % 10 == 0, 1.0, np.nan)  # mostly NULL
    return features


def test_absent_constant_and_mostly_null_columns_are_left_out_with_their_reason(world):
    marts = align(_partial(world), world.labels, horizon=1)
    assert set(marts.dropped_features) == {"vwap_dev", "exchange_inflow", "net_exchange_flow_z"}
    assert "source is absent" in marts.dropped_features["vwap_dev"]
    assert marts.dropped_features["exchange_inflow"].startswith("constant")
    assert "NULL on" in marts.dropped_features["net_exchange_flow_z"]
    assert set(marts.feature_names) == {"ret_1", "ret_4", "vol_24", "flow_z", "noise_a", "volume_z"}


def test_training_windows_survive_absent_sources(world):
    cfg = small_config(train_bars=400, val_bars=80, test_bars=100)
    windows = make_windows(align(_partial(world), world.labels, horizon=1), cfg.seq_len)
    folds = evaluation_folds(windows, cfg)  # used to raise: every window had a NULL feature
    assert folds and windows.labelled.sum() > 700


def test_a_named_feature_without_values_is_refused_by_name(world):
    with pytest.raises(MartsError, match=r"\['vwap_dev'\] of models.features are NULL on every bar"):
        align(_partial(world), world.labels, 1, ["flow_z", "vwap_dev"])


def test_no_feature_with_values_at_all_says_which_were_left_out(world):
    empty = world.features[["asset", "bar_time"]].assign(vwap_dev=np.nan, spread_bps=np.nan)
    with pytest.raises(MartsError, match=r"no feature column to learn from: left out 2 .*vwap_dev"):
        align(empty, world.labels, 1)
