"""The latent world at minute resolution: fair log-prices, volatility, venue dispersion, base fee.

One day is computed from the state at the end of the previous day and that day's own random
streams, so the path is the same however the days are asked for. Per asset, per minute ``m``::

    x_m   = phi * x_{m-1} + sqrt(1 - phi^2) * vol_of_vol * z_m        (log-volatility, AR(1))
    sig_m = vol / sqrt(525600) * exp(x_m - vol_of_vol^2)              (so E[sig_m^2] = vol^2 per year)
    dlogF = sig_m * eps_m + mu_m + sum of N_m jumps ~ N(0, jump_size^2),  N_m ~ Poisson(jumps/day / 1440)

where the drift ``mu_m = -beta * s_{h-1} * sigma_h / minutes_per_bar`` for the minutes of bar h
(``sigma_h`` is the bar's diffusive std) plants the signal; with beta = 0 the log-price is a
martingale. Each venue's log mid is the fair log-price plus an AR(1) dispersion (centred across
venues, so the venues' mean log price is the fair price).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from marketsim.clock import MINUTES_PER_DAY, MINUTES_PER_YEAR
from marketsim.keyed import generator, name_key
from marketsim.spec import SimSpec

_BASE_FEE_SD = 0.4
_BASE_FEE_HALFLIFE_MIN = 360.0


@dataclass(frozen=True)
class LatentState:
    """The latent world at a day boundary."""

    log_fair: np.ndarray  # (assets,)
    log_vol: np.ndarray  # (assets,) log-vol deviation of the last minute
    dispersion: np.ndarray  # (assets, venues) uncentred dispersion at the boundary
    base_fee: float  # log base-fee deviation at the boundary


@dataclass(frozen=True)
class LatentDay:
    """One day of the latent world; minute boundaries 0..1440 (index 1440 is the next midnight)."""

    day: int
    log_fair: np.ndarray  # (assets, 1441)
    sigma: np.ndarray  # (assets, 1440) diffusive std of each minute's log return
    log_mid: np.ndarray  # (assets, venues, 1441) venue log mid
    log_base_fee: np.ndarray  # (1441,) log of the base fee in gwei (smooth part)
    bar_sigma: np.ndarray  # (assets, bars_per_day) diffusive std of each bar's log return
    drift_signal: np.ndarray  # (assets, bars_per_day) the s that set each bar's drift


def _phi(halflife_minutes: float) -> float:
    return 0.5 ** (1.0 / halflife_minutes)


def _ar1(noise: np.ndarray, phi: float, sd: float | np.ndarray, previous: np.ndarray) -> np.ndarray:
    """x_m = phi x_{m-1} + sqrt(1-phi^2) sd z_m along the last axis, from x_{-1} = previous."""
    shocks = noise * (np.asarray(sd) * math.sqrt(1.0 - phi * phi))
    return lfilter([1.0], [1.0, -phi], shocks, axis=-1, zi=(phi * np.asarray(previous))[..., None])[0]


def initial_state(spec: SimSpec) -> LatentState:
    """The world at the epoch: configured prices, stationary volatility, dispersion and base fee."""
    g = generator(spec.seed, "latent-initial")
    n_assets, n_venues = len(spec.assets), len(spec.venues)
    log_vol = spec.vol_of_vol * g.standard_normal(n_assets)
    disp_sd = np.array([v.dispersion_bps * 1e-4 for v in spec.venues])
    dispersion = g.standard_normal((n_assets, n_venues)) * disp_sd
    return LatentState(
        log_fair=np.log([a.price for a in spec.assets]),
        log_vol=log_vol,
        dispersion=dispersion,
        base_fee=float(_BASE_FEE_SD * g.standard_normal()),
    )


def latent_day(
    spec: SimSpec, day: int, state: LatentState, drift_signal: np.ndarray
) -> tuple[LatentDay, LatentState]:
    """Day ``day`` of the latent world from the state at its start; ``drift_signal[a, h]`` is the
    planted observable that sets bar h's drift (the previous bar's s)."""
    n = MINUTES_PER_DAY
    n_assets = len(spec.assets)
    z_vol = np.empty((n_assets, n))
    eps = np.empty((n_assets, n))
    jumps = np.zeros((n_assets, n))
    for i, asset in enumerate(spec.assets):
        g = generator(spec.seed, "latent", name_key(asset.symbol), day)
        z_vol[i] = g.standard_normal(n)
        eps[i] = g.standard_normal(n)
        counts = g.poisson(asset.jumps_per_day / n, n)
        sizes = g.standard_normal(n)
        jumps[i] = np.sqrt(counts) * sizes * asset.jump_size

    log_vol = _ar1(z_vol, _phi(spec.vol_halflife_minutes), spec.vol_of_vol, state.log_vol)
    sigma_bar_min = np.array([a.vol for a in spec.assets])[:, None] / math.sqrt(MINUTES_PER_YEAR)
    sigma = sigma_bar_min * np.exp(log_vol - spec.vol_of_vol**2)

    mpb = spec.minutes_per_bar
    bar_sigma = np.sqrt((sigma * sigma).reshape(n_assets, -1, mpb).sum(axis=2))
    drift = np.repeat(-spec.signal_strength * drift_signal * bar_sigma / mpb, mpb, axis=1)
    increments = sigma * eps + drift + jumps
    log_fair = np.empty((n_assets, n + 1))
    log_fair[:, 0] = state.log_fair
    np.cumsum(increments, axis=1, out=log_fair[:, 1:])
    log_fair[:, 1:] += state.log_fair[:, None]

    dispersion = _dispersion(spec, day, state.dispersion)
    log_mid = log_fair[:, None, :] + (dispersion - dispersion.mean(axis=1, keepdims=True))

    g = generator(spec.seed, "base-fee", day)
    fee_dev = np.empty(n + 1)
    fee_dev[0] = state.base_fee
    fee_dev[1:] = _ar1(
        g.standard_normal(n), _phi(_BASE_FEE_HALFLIFE_MIN), _BASE_FEE_SD, np.array(state.base_fee)
    )
    log_base_fee = math.log(spec.base_fee_gwei) + fee_dev

    result = LatentDay(day, log_fair, sigma, log_mid, log_base_fee, bar_sigma, drift_signal)
    end = LatentState(
        log_fair[:, -1].copy(), log_vol[:, -1].copy(), dispersion[:, :, -1].copy(), float(fee_dev[-1])
    )
    return result, end


def _dispersion(spec: SimSpec, day: int, previous: np.ndarray) -> np.ndarray:
    """(assets, venues, 1441) uncentred venue dispersion at the minute boundaries."""
    n = MINUTES_PER_DAY
    noise = np.empty((len(spec.assets), len(spec.venues), n))
    for i, asset in enumerate(spec.assets):
        for j, venue in enumerate(spec.venues):
            noise[i, j] = generator(
                spec.seed, "dispersion", name_key(asset.symbol), name_key(venue.id), day
            ).standard_normal(n)
    sd = np.array([v.dispersion_bps * 1e-4 for v in spec.venues])[None, :, None]
    out = np.empty((len(spec.assets), len(spec.venues), n + 1))
    out[:, :, 0] = previous
    out[:, :, 1:] = _ar1(noise, _phi(spec.dispersion_halflife_minutes), sd, previous)
    return out


def interpolate(values: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """Linear interpolation of minute-boundary ``values`` (..., 1441) at fractional ``minutes`` in [0, 1440]."""
    i = np.minimum(np.floor(minutes).astype(np.int64), MINUTES_PER_DAY - 1)
    w = minutes - i
    return values[..., i] * (1.0 - w) + values[..., i + 1] * w
