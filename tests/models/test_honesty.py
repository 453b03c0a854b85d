"""Honesty: nothing is found where nothing is, what is there is found, and the future stays unseen.

These run the whole walk-forward (baselines, LSTM, Transformer, linear, LightGBM, ensemble) on small
simulated worlds; the full-size check is `kimera bench training`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluation import against_oracle, summarise
from models.marts import align
from models.synthetic import make_world
from models.walk_forward import (
    ALL_MODELS,
    MEMBERS,
    all_predictions,
    evaluation_folds,
    run_all,
    run_ensemble,
    run_member,
)
from models.windows import make_windows

from .conftest import small_config


@pytest.mark.slow
def test_null_world_no_model_beats_a_coin_or_makes_money_after_fees() -> None:
    # One fixed world, so the test is deterministic. A one-sided 2σ bound fires by chance for
    # ~2.3 % of worlds per model, ~10-20 % for any of seven: over 40 null worlds each baseline's
    # accuracy z-score was N(0, 1), and worlds 0 and 3 trip it by luck (always_up at 2.04σ in
    # accuracy, 2.25σ in Sharpe). test_null_worlds.py checks that rate over 20 worlds.
    world = make_world(bars=1100, strength=0.0, seed=1)
    cfg = small_config()
    windows = make_windows(align(world.features, world.labels, 1), cfg.seq_len)
    _, runs = run_all(windows, cfg)
    summary = summarise(all_predictions(runs), 1, cfg.fee_bps).set_index("model")
    assert set(summary.index) == set(ALL_MODELS)
    for model, row in summary.iterrows():
        sigma = np.sqrt(0.25 / row["n"])
        assert row["accuracy"] < 0.5 + 2 * sigma, (model, row["accuracy"], sigma)
        assert row["sharpe"] < 2 * row["sharpe_se"], (model, row["sharpe"], row["sharpe_se"])


@pytest.mark.slow
def test_planted_signal_ensemble_reaches_90_percent_of_the_oracle_edge() -> None:
    world = make_world(bars=1500, strength=0.5, seed=5)
    cfg = small_config(train_bars=700, test_bars=200, max_windows=3, seeds=[0, 1])
    windows = make_windows(align(world.features, world.labels, 1), cfg.seq_len)
    _, runs = run_all(windows, cfg)
    found = against_oracle(all_predictions(runs), world.truth, "ensemble")
    assert found["oracle_hit"] > 0.55  # the world really holds a signal on these bars
    assert found["hit"] >= 0.5 + 0.9 * (found["oracle_hit"] - 0.5), found
    baseline = against_oracle(all_predictions(runs), world.truth, "always_up")
    assert found["hit"] > baseline["hit"] + 0.05


def _truncated_and_full(kinds, planted_world, upto: int = 0):
    """Walk-forward runs of ``kinds`` on all the data, and on the data cut one bar after test window
    ``upto`` (so its last label is realised); the window compared is ``upto``."""
    cfg = small_config(max_windows=10, seeds=[0], train_bars=500, test_bars=150)
    marts = align(planted_world.features, planted_world.labels, 1)
    full = make_windows(marts, cfg.seq_len)
    folds = evaluation_folds(full, cfg)
    assert len(folds) >= upto + 2
    cut_at = pd.Timestamp(folds[upto].test[1]) + pd.Timedelta(hours=1)
    cut = make_windows(marts.until(cut_at), cfg.seq_len)
    early = {k: run_member(k, cut, evaluation_folds(cut, cfg), cfg) for k in kinds}
    late = {k: run_member(k, full, folds, cfg) for k in kinds}
    return cfg, folds[upto].number, early, late


def _same(early: pd.DataFrame, late: pd.DataFrame, window: int) -> None:
    early, late = early[early["window"] == window], late[late["window"] == window]
    assert len(early) == len(late) > 0
    pd.testing.assert_frame_equal(early.reset_index(drop=True), late.reset_index(drop=True))


@pytest.mark.parametrize("kind", ["linear", "lightgbm", "lstm", "transformer"])
def test_truncating_data_after_t_leaves_every_earlier_prediction_unchanged(kind: str, planted_world) -> None:
    _, window, early, late = _truncated_and_full([kind], planted_world)
    _same(early[kind].predictions, late[kind].predictions, window)


@pytest.mark.slow
def test_truncating_data_after_t_leaves_the_ensembles_earlier_predictions_unchanged(planted_world) -> None:
    # the second window: its weights also learn from the first window's out-of-sample rows
    cfg, window, early, late = _truncated_and_full(list(MEMBERS), planted_world, upto=1)
    ensemble_early = run_ensemble([early[k] for k in MEMBERS], cfg).predictions
    ensemble_late = run_ensemble([late[k] for k in MEMBERS], cfg).predictions
    _same(ensemble_early, ensemble_late, window)
