"""Honesty on the simulator's world: its planted flow signal and its Bayes-optimal oracle.

Until the dbt marts feed these tests, the features are the observable the chain data carries (net
exchange inflow of the asset's token over the bar) and the asset's own past returns, read from the
simulator's evaluation-only planted-signal table (bench/_ml_worlds.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench._ml_worlds import simulated_world
from models.evaluation import against_oracle, summarise
from models.marts import align
from models.walk_forward import all_predictions, run_all
from models.windows import make_windows

from .conftest import small_config


def _run(strength: float, days: int = 60):
    world = simulated_world(days, strength=strength)
    cfg = small_config(train_bars=600, test_bars=200, max_windows=3)
    windows = make_windows(align(world.features, world.labels, 1), cfg.seq_len)
    _, runs = run_all(windows, cfg)
    return world, cfg, all_predictions(runs)


@pytest.mark.slow
def test_simulator_planted_signal_is_recovered_to_90_percent_of_the_oracle_edge(kimera_home) -> None:
    world, _, predictions = _run(strength=0.5)
    found = against_oracle(predictions, world.truth, "ensemble")
    assert found["oracle_hit"] > 0.56
    assert found["hit"] >= 0.5 + 0.9 * (found["oracle_hit"] - 0.5), found


@pytest.mark.slow
def test_simulator_null_world_shows_no_edge_and_no_profit_after_fees(kimera_home) -> None:
    _, cfg, predictions = _run(strength=0.0)
    summary = summarise(predictions, 1, cfg.fee_bps).set_index("model")
    for model, row in summary.iterrows():
        assert row["accuracy"] < 0.5 + 2 * np.sqrt(0.25 / row["n"]), (model, row["accuracy"])
        assert row["sharpe"] < 2 * row["sharpe_se"], (model, row["sharpe"], row["sharpe_se"])
