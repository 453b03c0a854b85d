"""An eth-tester chain with the real Uniswap V3 factory, position manager and SwapRouter, and pools in
three fee tiers holding positions over several overlapping tick ranges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from execution.amm.v3 import sqrt_ratio_at_tick

# (tick_lower, tick_upper, amount of each token) per position; ranges overlap and leave gaps, so
# swaps meet ticks where liquidity rises, falls and runs out
RANGES = {
    500: [(-300, 300, 10**21), (-1000, -100, 10**21), (50, 2000, 10**21), (-8000, 8000, 10**20)],
    3000: [(-600, 600, 10**21), (-1200, -60, 10**21), (120, 2400, 10**21), (-6000, 6000, 10**20)],
    10000: [(-2000, 2000, 10**21), (-6000, -200, 5 * 10**20), (400, 10000, 10**21)],
}


@dataclass
class V3World:
    evm: Any
    uni: Any
    pools: dict[int, Any]  # fee -> pool contract
    token0: Any
    token1: Any

    @property
    def trader(self) -> str:
        return self.evm.accounts[1]

    def balance(self, token: Any) -> int:
        return token.functions.balanceOf(self.trader).call()


@pytest.fixture(scope="package")
def _v3_chain() -> V3World:
    from marketsim.local_evm import Evm
    from tests.support.uniswap_v3 import deploy_uniswap_v3

    evm = Evm()
    uni = deploy_uniswap_v3(evm)
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    pools = {}
    for fee, ranges in RANGES.items():
        pools[fee] = uni.create_pool(a, b, fee, sqrt_ratio_at_tick(0))
        for lower, upper, amount in ranges:
            uni.mint(pools[fee], lower, upper, amount, amount)
    token0, token1 = uni.sorted_pair(a, b)
    trader = evm.accounts[1]
    for token in (token0, token1):
        evm.send(token.functions.transfer(trader, 10**25))
    return V3World(evm, uni, pools, token0, token1)


@pytest.fixture
def v3_world(_v3_chain: V3World) -> Iterator[V3World]:
    """The deployed pools, reverted to their minted state after each test."""
    snapshot = _v3_chain.evm.tester.take_snapshot()
    try:
        yield _v3_chain
    finally:
        _v3_chain.evm.tester.revert_to_snapshot(snapshot)
