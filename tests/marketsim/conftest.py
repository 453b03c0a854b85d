"""A world like the shipped config's (BTC, ETH; three venues; WETH, WBTC, USDC; two V2 pools)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from marketsim import AssetSpec, MarketSimulator, PoolSpec, SimSpec, TokenSpec, VenueSpec, WalletSpec

START = datetime(2026, 1, 1)
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
WBTC = "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
USDC_WETH = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
WBTC_USDC = "0x004375Dff511095CC5A197A54140a24eFEF3A416"


def make_spec(**changes) -> SimSpec:
    spec = SimSpec(
        start=START,
        assets=(
            AssetSpec("BTC", price=85_000, vol=0.55, token="WBTC", jump_size=0.012),
            AssetSpec("ETH", price=3_200, vol=0.70, token="WETH", jump_size=0.016),
        ),
        venues=(
            VenueSpec("alpha", spread_bps=1.5, fee_bps=10, depth=1.5, latency_ms=15, dispersion_bps=0.8),
            VenueSpec("bravo", spread_bps=2.5, fee_bps=8, depth=1.0, latency_ms=40, dispersion_bps=1.2),
            VenueSpec("charlie", spread_bps=4.0, fee_bps=20, depth=0.6, latency_ms=80, dispersion_bps=2.0),
        ),
        tokens=(
            TokenSpec("WETH", WETH, 18, "ETH", 500),
            TokenSpec("WBTC", WBTC, 8, "BTC", 25),
            TokenSpec("USDC", USDC, 6, "USD", 1_000_000),
        ),
        wallets=(
            WalletSpec("0x28C6c06298d514Db089934071355E5743bf21d60", "binance"),
            WalletSpec("0x21a31Ee1afC51d94C2eFcCAa2092aD1028285549", "binance"),
            WalletSpec("0x71660c4005BA85c37ccec55d0C4493E66Fe775d3", "coinbase"),
            WalletSpec("0x2910543Af39abA0Cd09dBb2D50200b3E800A63D2", "kraken"),
        ),
        pools=(PoolSpec(USDC_WETH, "USDC", "WETH"), PoolSpec(WBTC_USDC, "WBTC", "USDC")),
        seed=11,
        signal_strength=0.15,
    )
    return replace(spec, **changes)


@pytest.fixture(scope="session")
def spec() -> SimSpec:
    return make_spec()


@pytest.fixture(scope="session")
def sim(spec: SimSpec) -> MarketSimulator:
    """One shared simulator (its caches make later tests cheap); tests that need a cold one build it."""
    return MarketSimulator(spec)


@pytest.fixture(scope="session")
def three_days(sim: MarketSimulator) -> dict:
    """Every table for days 1-3 (past the epoch, so carried state is exercised)."""
    return sim.generate(START + timedelta(days=1), START + timedelta(days=4))
