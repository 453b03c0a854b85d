"""The shipped config simulates two chains (ethereum and bsc) whose pools track one fair price, each
with its own noise and arbitrage lag: marts.cross_chain_basis has their price gap per bar."""

from __future__ import annotations

import numpy as np


def test_the_two_simulated_chains_give_a_small_symmetric_basis_every_bar(warehouse, sim_config) -> None:
    chains = [c.name for c in sim_config.chains]
    assert chains == ["ethereum", "bsc"]
    swaps = dict(warehouse.execute("select chain, count(*) from raw.dex_swaps group by chain").fetchall())
    assert swaps["ethereum"] > 0 and swaps["bsc"] > 0
    rows = warehouse.execute(
        "select asset, bar_time, chain, other_chain, basis_bps from marts.cross_chain_basis"
    ).fetchall()
    pairs = {(a, c, o) for a, _, c, o, _ in rows}
    assert pairs == {("ETH", "ethereum", "bsc"), ("ETH", "bsc", "ethereum")}  # only ETH trades on both
    basis = {(t, c): b for _, t, c, _, b in rows}
    bars = {t for t, _ in basis}
    assert len(bars) > 24 * 5  # most hours of the nine simulated days
    for t in bars:  # one gap seen from either side
        assert basis[(t, "ethereum")] == -basis[(t, "bsc")]
    gaps = np.array([basis[(t, "ethereum")] for t in bars])
    # both pools are pulled to the same fair price within their fee bands (0.30 % and 0.25 %), so the
    # gap lives within about the sum of the bands plus what the noise moves before an arbitrageur looks
    assert np.median(np.abs(gaps)) < 40
    assert np.abs(gaps).max() < 300
    assert gaps.std() > 1  # and it is not zero: the chains are two pools, not one copied
