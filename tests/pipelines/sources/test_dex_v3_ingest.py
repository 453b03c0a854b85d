"""Ingest of Uniswap V3 pools on their real contracts: swaps, mints, burns and the pool's state, each
amount as the chain has it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from web3 import Web3

from connect.evm import scaled, sqrt_price_x96_price
from execution.amm.v3 import sqrt_ratio_at_tick
from kimera.schema import DEX_LIQUIDITY, DEX_POOL_RESERVES, DEX_SWAPS, conform
from pipelines.sources import make_sources
from pipelines.sources.rows import EPOCH
from tests.pipelines.sources.conftest import FAST_RETRY
from tests.support.config import config_with

ONE = 10**18


@dataclass
class V3Chain:
    evm: Any
    uni: Any
    rpc: Any
    pools: dict[int, Any]

    def config(self):
        tokens = [{"symbol": n, "address": c.address, "decimals": 18} for n, c in self.uni.tokens.items()]
        t0, t1 = [n for n, c in sorted(self.uni.tokens.items(), key=lambda kv: int(kv[1].address, 16))]
        pools = [
            {"address": p.address, "dex": "uniswap_v3", "token0": t0, "token1": t1}
            for p in self.pools.values()
        ]
        chain = {"source": "rpc", "name": "testchain", "rpc_url": self.rpc.url, "confirmations": 0,
                 "tokens": tokens, "retry": FAST_RETRY}  # fmt: skip
        return config_with(chain=chain, dex={"source": "rpc", "pools": pools})

    def window(self, first: int):
        start, end = self.evm.block_time(first), self.evm.block_time() + 1
        return EPOCH + timedelta(seconds=start), EPOCH + timedelta(seconds=end)


@pytest.fixture(scope="module")
def v3_chain() -> Iterator[V3Chain]:
    from marketsim.local_evm import Evm
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.uniswap_v3 import deploy_uniswap_v3

    evm = Evm()
    uni = deploy_uniswap_v3(evm)
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    pools = {fee: uni.create_pool(a, b, fee, sqrt_ratio_at_tick(0)) for fee in (500, 3000)}
    with JsonRpcServer(evm.w3) as rpc:
        yield V3Chain(evm, uni, rpc, pools)


def test_swaps_mints_burns_and_state_of_v3_pools_match_the_chain(v3_chain: V3Chain, kimera_home) -> None:
    evm, uni = v3_chain.evm, v3_chain.uni
    t0, t1 = uni.sorted_pair(uni.tokens["TKA"], uni.tokens["TKB"])
    trader = evm.accounts[1]
    for token in (t0, t1):
        evm.send(token.functions.transfer(trader, 10**24))
    first = evm.head + 1
    mints = []
    for pool in v3_chain.pools.values():
        spacing = pool.functions.tickSpacing().call()
        for lower, upper in ((-10, 10), (-40, -2), (3, 30)):
            before = (t0.functions.balanceOf(evm.owner).call(), t1.functions.balanceOf(evm.owner).call())
            receipt = uni.mint(pool, lower * spacing, upper * spacing, 10**21, 10**21)
            paid = (before[0] - t0.functions.balanceOf(evm.owner).call(),
                    before[1] - t1.functions.balanceOf(evm.owner).call())  # fmt: skip
            mints.append((pool.address.lower(), receipt.blockNumber, lower * spacing, upper * spacing, paid))
    swaps = []
    for pool in v3_chain.pools.values():
        for token_in, amount in ((t0, 600 * ONE), (t1, 1_500 * ONE)):  # each crosses initialised ticks
            token_out = t1 if token_in is t0 else t0
            out_before = token_out.functions.balanceOf(trader).call()
            receipt = uni.swap_exact_in(pool, token_in, amount, trader)
            received = token_out.functions.balanceOf(trader).call() - out_before
            a0, a1 = (amount, -received) if token_in is t0 else (-received, amount)
            sqrt_price, tick, *_ = pool.functions.slot0().call()
            swaps.append((Web3.to_hex(receipt.transactionHash), a0, a1, sqrt_price, tick,
                          pool.functions.liquidity().call()))  # fmt: skip
    # the first position of the 0.3 % pool (token id 4) is partly withdrawn: a Burn owed back to its owner
    position = uni.positions.functions.positions(4).call()
    half = position[7] // 2
    owed = uni.positions.functions.decreaseLiquidity((4, half, 0, 0, evm.block_time() + 60)).call()
    evm.send(uni.positions.functions.decreaseLiquidity((4, half, 0, 0, evm.block_time() + 60)))

    source = make_sources(v3_chain.config()).dex
    window = v3_chain.window(first)
    got_swaps = conform(DEX_SWAPS, source.swaps(*window)).to_pylist()
    got_state = conform(DEX_POOL_RESERVES, source.reserves(*window)).to_pylist()
    got_liquidity = conform(DEX_LIQUIDITY, source.liquidity(*window)).to_pylist()

    assert [s["tx_hash"] for s in got_swaps] == [s[0] for s in swaps]
    for row, state, (_, a0, a1, sqrt_price, tick, liquidity) in zip(got_swaps, got_state, swaps, strict=True):
        assert (row["amount0"], row["amount1"]) == (scaled(a0, 18), scaled(a1, 18))
        assert (row["sqrt_price_x96"], row["tick"]) == (str(sqrt_price), tick)
        assert row["price"] == sqrt_price_x96_price(sqrt_price, 18, 18)
        assert (state["block_number"], state["log_index"]) == (row["block_number"], row["log_index"])
        l_from_reserves = (state["reserve0"] * state["reserve1"]) ** 0.5 * ONE
        assert l_from_reserves == pytest.approx(liquidity, rel=1e-12)  # the in-range liquidity after the swap
    minted = [r for r in got_liquidity if r["event"] == "mint"]
    assert [(r["pool"], r["block_number"], r["tick_lower"], r["tick_upper"]) for r in minted] == [
        m[:4] for m in mints
    ]
    for row, (*_, paid) in zip(minted, mints, strict=True):
        assert (row["amount0"], row["amount1"]) == (scaled(paid[0], 18), scaled(paid[1], 18))
        assert row["owner"] == uni.positions.address.lower()
    (burn,) = [r for r in got_liquidity if r["event"] == "burn"]
    assert burn["pool"] == v3_chain.pools[3000].address.lower() and int(burn["liquidity"]) == half
    assert (burn["amount0"], burn["amount1"]) == (scaled(owed[0], 18), scaled(owed[1], 18))
    assert (burn["tick_lower"], burn["tick_upper"]) == (position[5], position[6])
