"""The null-world check over many worlds, and a test of that test.

On a world where nothing is predictable (signal strength 0) a model "beats a coin" when its
accuracy is more than 2 standard errors above 0.5; an honest model does that by chance at the
nominal one-sided rate 1 - Phi(2) ~ 2.3 %. Over 20 worlds and every model the alarms must stay at
that rate (far more would mean a leak or an understated error), the z-scores must spread like a
standard normal (a check whose error bar is too wide could never fire), and a forecaster that
peeks at the future on a few bars must be caught in nearly every world (the check has power).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm

from models.evaluation import summarise
from models.marts import align
from models.synthetic import make_world
from models.walk_forward import ALL_MODELS, all_predictions, run_all
from models.windows import make_windows

from .conftest import small_config

WORLDS = 20
Z = 2.0
NOMINAL = float(norm.sf(Z))  # one-sided false-alarm rate of a 2-sigma bound


def _accuracy_z(predictions: pd.DataFrame, cfg) -> pd.DataFrame:
    summary = summarise(predictions, 1, cfg.fee_bps).set_index("model")
    sigma = np.sqrt(0.25 / summary["n"])
    return pd.DataFrame(
        {
            "accuracy_z": (summary["accuracy"] - 0.5) / sigma,
            "sharpe_z": summary["sharpe"] / summary["sharpe_se"],
        }
    )


def _peeking(predictions: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A cheat: the always-up baseline's rows, except that on ``share`` of the bars it knows the outcome."""
    rows = predictions[predictions["model"] == "always_up"].copy()
    rng = np.random.default_rng(seed)
    peek = rng.random(len(rows)) < share
    coin = rng.random(len(rows)) < 0.5
    knows = np.where(peek, rows["fwd_ret"].to_numpy() > 0, coin)
    rows["p_up"] = np.where(knows, 0.6, 0.4)
    rows["forecast"] = np.where(knows, 1e-3, -1e-3)
    rows["position"] = np.where(knows, 1.0, -1.0)
    rows["model"] = "peeking"
    return rows


@pytest.fixture(scope="module")
def null_runs() -> list[pd.DataFrame]:
    """Every model's z-scores on each of :data:`WORLDS` null worlds (and a peeking cheat's)."""
    cfg = small_config(
        train_bars=400, val_bars=100, test_bars=400, max_windows=1, seeds=[0], max_epochs=4, patience=2
    )
    out = []
    for world_seed in range(WORLDS):
        world = make_world(bars=860, strength=0.0, seed=1000 + world_seed)
        windows = make_windows(align(world.features, world.labels, 1), cfg.seq_len)
        _, runs = run_all(windows, cfg)
        predictions = all_predictions(runs)
        predictions = pd.concat([predictions, _peeking(predictions, 1 / 6, world_seed)], ignore_index=True)
        out.append(_accuracy_z(predictions, cfg).assign(world=world_seed))
    return out


@pytest.mark.slow
def test_null_worlds_raise_false_alarms_at_the_nominal_rate_and_no_more(null_runs) -> None:
    z = pd.concat(null_runs).drop(index="peeking")
    assert set(z.index) == set(ALL_MODELS) and len(z) == WORLDS * len(ALL_MODELS)
    trials = len(z)
    # the most alarms an honest set of models raises in 999 of 1000 such experiments
    ceiling = int(binom.ppf(0.999, trials, NOMINAL))
    accuracy_alarms = int((z["accuracy_z"] > Z).sum())
    sharpe_alarms = int((z["sharpe_z"] > Z).sum())
    assert accuracy_alarms <= ceiling, (accuracy_alarms, ceiling, z[z["accuracy_z"] > Z])
    assert sharpe_alarms <= ceiling, (sharpe_alarms, ceiling, z[z["sharpe_z"] > Z])
    # a test of the test: honest z-scores centre on 0 with unit spread, so the 2-sigma bound means
    # what it says (a leak shifts them up; an overstated error bar shrinks them and hides the leak)
    learned = z.drop(index="always_up")["accuracy_z"]  # always_up's z is each world's up-share
    assert abs(learned.mean()) < 0.5, learned.describe()
    assert 0.6 < learned.std() < 1.5, learned.describe()


@pytest.mark.slow
def test_the_null_check_catches_a_forecaster_that_peeks_at_one_bar_in_six(null_runs) -> None:
    caught = [float(frame.loc["peeking", "accuracy_z"]) > Z for frame in null_runs]
    assert sum(caught) >= WORLDS - 1, caught
