"""Honesty on the real pipeline: simulated raw tables, `dbt build`, and the models on marts.features
and marts.labels (what they see in production), scored against the simulator's Bayes oracle."""

from __future__ import annotations

import numpy as np
import pytest

from bench._ml_worlds import marts_world
from models.evaluation import against_oracle, summarise
from models.marts import align
from models.walk_forward import all_predictions, run_all
from models.windows import make_windows

from .conftest import small_config


def _run(home, strength: float):
    world, names = marts_world(home, days=60, strength=strength)
    cfg = small_config(train_bars=600, test_bars=200, max_windows=3)
    windows = make_windows(align(world.features, world.labels, 1), cfg.seq_len)
    assert windows.feature_names == tuple(names) and len(names) > 20  # every dbt feature is used
    _, runs = run_all(windows, cfg)
    return world, cfg, all_predictions(runs)


@pytest.mark.slow
def test_marts_planted_signal_is_recovered_to_90_percent_of_the_oracle_edge(kimera_home, tmp_path) -> None:
    world, _, predictions = _run(tmp_path / "planted", strength=0.5)
    found = against_oracle(predictions, world.truth, "ensemble")
    assert found["oracle_hit"] > 0.56
    assert found["hit"] >= 0.5 + 0.9 * (found["oracle_hit"] - 0.5), found


@pytest.mark.slow
def test_marts_null_world_shows_no_edge_and_no_profit_after_fees(kimera_home, tmp_path) -> None:
    _, cfg, predictions = _run(tmp_path / "null", strength=0.0)
    summary = summarise(predictions, 1, cfg.fee_bps).set_index("model")
    for model, row in summary.iterrows():
        assert row["accuracy"] < 0.5 + 2 * np.sqrt(0.25 / row["n"]), (model, row["accuracy"])
        assert row["sharpe"] < 2 * row["sharpe_se"], (model, row["sharpe"], row["sharpe_se"])
