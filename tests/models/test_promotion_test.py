"""The promotion gate's paired test, as shipped: noise does not promote, a truly better model does.

Each trial is a fresh out-of-sample window of a planted-signal world like the simulator's (two
assets sharing the market's move, volatility that clusters, the next bar's return led by an
observable signal) and two forecasts of P(up) scored bar by bar with the gate's own log loss.
Model errors persist from bar to bar (AR(1), 0.8), as errors of models fed slow features do.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from kimera.config import PromotionConfig
from models.paired_test import paired_test
from models.promotion import per_bar_log_loss

ASSETS = 2
TRIALS = 50


def _window(rng: np.random.Generator, bars: int, strength: float, horizon: int):
    """Signal, forward log returns over ``horizon`` bars, and bar index, each (bars, assets)."""
    n = bars + horizon
    log_vol = np.zeros(n)
    for t in range(1, n):
        log_vol[t] = 0.95 * log_vol[t - 1] + 0.3 * rng.normal()
    vol = np.exp(log_vol)[:, None]
    signal = rng.normal(size=(n, ASSETS))
    market = rng.normal(size=(n, 1))
    noise = np.sqrt(0.6) * market + np.sqrt(0.4) * rng.normal(size=(n, ASSETS))
    ret = np.zeros((n, ASSETS))
    ret[1:] = vol[1:] * (strength * signal[:-1] + noise[1:])
    fwd = np.stack([ret[t + 1 : t + 1 + horizon].sum(axis=0) for t in range(bars)])
    return signal[:bars], fwd, np.repeat(np.arange(bars), ASSETS).reshape(bars, ASSETS)


def _errors(rng: np.random.Generator, bars: int) -> np.ndarray:
    e = np.zeros((bars, ASSETS))
    e[0] = rng.normal(size=ASSETS)
    for t in range(1, bars):
        e[t] = 0.8 * e[t - 1] + 0.6 * rng.normal(size=ASSETS)
    return e


def _promoted(rng, rule: PromotionConfig, *, bars: int, horizon: int, strength: float, served_skill: float,
              candidate_skill: float) -> bool:  # fmt: skip
    """One gate decision: each model knows ``skill`` of the planted signal and adds its own errors."""
    signal, fwd, bar = _window(rng, bars, strength, horizon)
    edge = strength * signal / np.sqrt(horizon * (1 + strength**2))
    served = norm.cdf(served_skill * edge + 0.3 * _errors(rng, bars))
    candidate = norm.cdf(candidate_skill * edge + 0.3 * _errors(rng, bars))
    gain = per_bar_log_loss(served.ravel(), fwd.ravel()) - per_bar_log_loss(candidate.ravel(), fwd.ravel())
    return paired_test(gain, bar.ravel(), horizon, z=rule.z, min_improvement=rule.min_improvement).passed


@pytest.mark.parametrize(
    ("bars", "horizon", "strength"),
    [
        (24, 1, 0.5),
        (72, 1, 0.5),
        (168, 1, 0.0),
        (72, 4, 0.5),
    ],  # a day, three days, a week; overlapping labels
)
def test_noise_candidates_against_an_equal_champion_are_rarely_promoted(bars, horizon, strength) -> None:
    rng = np.random.default_rng(2026 + bars + horizon)
    rule = PromotionConfig()  # as shipped
    promoted = sum(
        _promoted(
            rng, rule, bars=bars, horizon=horizon, strength=strength, served_skill=1.0, candidate_skill=1.0
        )
        for _ in range(TRIALS)
    )
    assert promoted <= 0.05 * TRIALS, f"{promoted} of {TRIALS} noise candidates promoted"


def test_without_the_test_a_third_or_more_of_the_noise_candidates_would_be_promoted() -> None:
    # what the gate did before: any mean gain passed (z = 0), so noise churned the served model
    rng = np.random.default_rng(7)
    rule = PromotionConfig(z=0.0, min_improvement=0.0)
    promoted = sum(
        _promoted(rng, rule, bars=72, horizon=1, strength=0.5, served_skill=1.0, candidate_skill=1.0)
        for _ in range(TRIALS)
    )
    assert promoted > 0.3 * TRIALS


def test_a_truly_better_candidate_is_promoted_at_least_80_percent_of_the_time() -> None:
    # the candidate has the planted edge (Bayes-optimal hit rate about 0.63), the served model lost
    # it; judged on two weeks of hourly bars of two assets, as after a weekly retrain
    rng = np.random.default_rng(11)
    promoted = sum(
        _promoted(
            rng, PromotionConfig(), bars=336, horizon=1, strength=0.5, served_skill=0.0, candidate_skill=1.0
        )
        for _ in range(TRIALS)
    )
    assert promoted >= 0.8 * TRIALS, f"only {promoted} of {TRIALS} better candidates promoted"


def test_the_standard_error_covers_overlapping_labels_and_assets_that_move_together() -> None:
    # the same per-bar gains counted once per asset, or overlapping horizons, must not look surer
    rng = np.random.default_rng(3)
    gain = np.repeat(rng.normal(0.0, 0.1, size=1000), ASSETS)
    twice = paired_test(gain, np.repeat(np.arange(1000), ASSETS), 1, z=2.326)
    assert twice.periods == 1000 and twice.se > 1.3 * gain.std(ddof=1) / np.sqrt(len(gain))
    overlapping = np.convolve(rng.normal(0.0, 0.1, 1003), np.ones(4), "valid")  # 4-bar sums, 3 in common
    test = paired_test(overlapping, np.arange(1000), 4, z=2.326)
    assert test.lag >= 3 and test.se > 1.4 * overlapping.std(ddof=1) / np.sqrt(1000)
