"""The members: deterministic per seed, sane outputs, and bad input refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

from models.scaling import Scaler, UnknownAssetError
from models.walk_forward import evaluation_folds, split, train_member

from .conftest import small_config


@pytest.fixture(scope="module")
def parts(planted_windows):
    cfg = small_config()
    fold = evaluation_folds(planted_windows, cfg)[0]
    return cfg, split(planted_windows, fold)


@pytest.mark.parametrize("kind", ["lstm", "transformer", "lightgbm"])
def test_same_seed_same_model_other_seed_other_model(parts, kind: str) -> None:
    cfg, (fit, val, test) = parts
    a = train_member(kind, fit, val, cfg, seed=3).predict_windows(test)
    b = train_member(kind, fit, val, cfg, seed=3).predict_windows(test)
    c = train_member(kind, fit, val, cfg, seed=4).predict_windows(test)
    np.testing.assert_array_equal(a.ret, b.ret)
    np.testing.assert_array_equal(a.p_up, b.p_up)
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    assert not np.array_equal(a.ret, c.ret)


@pytest.mark.parametrize("kind", ["lstm", "transformer", "linear", "lightgbm"])
def test_forecasts_are_probabilities_and_ordered_quantiles(parts, kind: str) -> None:
    cfg, (fit, val, test) = parts
    f = train_member(kind, fit, val, cfg, seed=0).predict_windows(test)
    assert f.quantiles.shape == (len(test), 3)
    assert np.all(np.diff(f.quantiles, axis=1) >= 0)
    assert np.all((f.p_up > 0) & (f.p_up < 1))
    # returns are of the data's scale (per-bar log returns of ~0.6 %), not of the scaled target
    assert 1e-4 < np.std(f.ret) < 0.02


def test_scaler_is_fit_on_the_training_part_only(parts) -> None:
    _, (fit, _, test) = parts
    scaler = Scaler.fit(fit)
    moved = test.take(np.arange(len(test)))
    moved.x[:] = moved.x * 100 + 7  # whatever happens later cannot change what was learnt
    assert Scaler.fit(fit).mean.tolist() == scaler.mean.tolist()
    btc = fit.asset == "BTC"
    np.testing.assert_allclose(scaler.mean[scaler.assets.index("BTC")], fit.x[btc, -1, :].mean(axis=0))


def test_bad_windows_are_refused_with_the_expected_shape(parts) -> None:
    cfg, (fit, val, test) = parts
    every_feature = cfg.model_copy(update={"screen_t": 0.0})  # no screen: the model takes all 6 columns
    model = train_member("linear", fit, val, every_feature, seed=0)
    with pytest.raises(ValueError, match=r"shape \(n, 12, 6\)"):
        model.predict(test.x[:, :5, :], test.asset)
    bad = test.x[:2].copy()
    bad[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad, test.asset[:2])
    with pytest.raises(UnknownAssetError, match="'DOGE' was not in the training data"):
        model.predict(test.x[:1], ["DOGE"])


def test_the_screen_keeps_the_planted_feature_and_the_model_picks_its_columns(parts) -> None:
    cfg, (fit, val, test) = parts
    model = train_member("lstm", fit, val, cfg, seed=0)
    assert model.feature_names == ("flow_z",)  # the planted signal; the noise columns are screened out
    whole = model.predict_windows(test)  # windows with every column: the model takes its own
    alone = model.predict(test.select(["flow_z"]).x, test.asset)
    np.testing.assert_array_equal(whole.p_up, alone.p_up)
    with pytest.raises(ValueError, match="trained on"):
        model.predict_windows(test.select(["ret_1", "vol_24"]))
