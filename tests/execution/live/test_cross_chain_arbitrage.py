"""Cross-chain arbitrage on two local chains (different chain ids) with the real Uniswap V2 contracts:
the price gap is found net of fees, gas on both chains and the bridge, both legs fill at once from
inventory held on each chain, and the inventory drift is planned back through the bridge on paper."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from execution.arbitrage import ChainPool, cross_chain_basis, find_opportunity, plan_rebalance
from execution.router import PoolInput
from execution.venues.base import OrderRequest, Side, TimeInForce, VenueStatus
from execution.venues.factory import uniswap_venue
from kimera.settings import get_settings
from tests.execution.live.conftest import live_config

ONE = 10**18
PRICES = {"ethereum": 2000, "bsc": 2060}


@pytest.fixture(scope="module")
def two_chains() -> Iterator[dict[str, Any]]:
    from tests.support.evm import Evm, deploy_uniswap_v2
    from tests.support.rpc_server import JsonRpcServer

    trader = Account.create()
    chains = {}
    for name, chain_id in (("ethereum", None), ("bsc", 56)):
        evm = Evm(chain_id=chain_id)
        uni = deploy_uniswap_v2(evm)
        evm.send(uni.weth.functions.deposit(), value=5_000 * ONE)
        usdc = uni.tokens["TKA"]
        pair = uni.create_pair(uni.weth, usdc, 1000 * ONE, 1000 * PRICES[name] * ONE)
        evm.w3.eth.send_transaction({"from": evm.owner, "to": trader.address, "value": 10 * ONE})
        evm.send(uni.weth.functions.transfer(trader.address, 50 * ONE))
        evm.send(usdc.functions.transfer(trader.address, 200_000 * ONE))
        rpc = JsonRpcServer(evm.w3).start()
        chains[name] = {"evm": evm, "uni": uni, "usdc": usdc, "pair": pair, "rpc": rpc}
    try:
        yield {"trader": trader, **chains}
    finally:
        for name in PRICES:
            chains[name]["rpc"].stop()


def _config(world: dict[str, Any], tmp_path) -> Any:
    chains, pools, venues = [], [], []
    for name in PRICES:
        c = world[name]
        weth_first = c["pair"].functions.token0().call() == c["uni"].weth.address
        chains.append({"name": name, "chain_id": c["evm"].w3.eth.chain_id, "tokens": [
            {"symbol": "WETH", "address": c["uni"].weth.address, "decimals": 18, "asset": "ETH"},
            {"symbol": "USDC", "address": c["usdc"].address, "decimals": 18, "asset": "USD"}]})  # fmt: skip
        t0, t1 = ("WETH", "USDC") if weth_first else ("USDC", "WETH")
        pools.append(
            {"address": c["pair"].address, "dex": "uniswap_v2", "token0": t0, "token1": t1, "chain": name}
        )
        venues.append({"name": f"uni_{name}", "type": "uniswap", "pool": c["pair"].address,
                       "router": c["uni"].router.address, "rpc_url": c["rpc"].url, "receipt_wait_s": 5.0})  # fmt: skip
    return live_config(
        tmp_path, {"venues": venues}, chain=None, chains=chains, dex={"source": "sim", "pools": pools}
    )


@pytest.fixture
async def venues(two_chains, tmp_path, monkeypatch, kimera_home):
    snapshots = {name: two_chains[name]["evm"].tester.take_snapshot() for name in PRICES}
    for name in PRICES:
        monkeypatch.setenv(f"KIMERA_SECRET_UNI_{name.upper()}_PRIVATE_KEY", two_chains["trader"].key.hex())
    get_settings.cache_clear()
    config = _config(two_chains, tmp_path)
    opened = {}
    try:
        for ref in config.execution.venues:
            opened[ref.name.removeprefix("uni_")] = await uniswap_venue(ref, config, get_settings())
        yield config, opened
    finally:
        for v in opened.values():
            await v.close()
        for name, snapshot in snapshots.items():
            two_chains[name]["evm"].tester.revert_to_snapshot(snapshot)


def _holdings(world: dict[str, Any]) -> dict[str, dict[str, float]]:
    who = world["trader"].address
    return {name: {"ETH": world[name]["uni"].weth.functions.balanceOf(who).call() / ONE,
                   "USD": world[name]["usdc"].functions.balanceOf(who).call() / ONE} for name in PRICES}  # fmt: skip


async def test_both_legs_fill_at_once_and_the_gap_pays_what_was_predicted(two_chains, venues) -> None:
    config, by_chain = venues
    states = {name: await v.pool("ETH/USDT") for name, v in by_chain.items()}
    pools = [ChainPool(name, PoolInput(f"uni_{name}", s.base_reserve, s.quote_reserve, s.fee, s.gas_quote, 0.05))
             for name, s in states.items()]  # fmt: skip
    basis = cross_chain_basis(pools)
    assert basis[("ethereum", "bsc")] == pytest.approx(0.03, rel=1e-9)
    opp = find_opportunity(pools, config.execution.arbitrage)
    assert opp is not None and (opp.buy.chain, opp.sell.chain) == ("ethereum", "bsc")
    assert opp.net > config.execution.arbitrage.min_net_quote and opp.gas > 0 and opp.bridge > 5
    before = _holdings(two_chains)
    amount = Decimal(f"{opp.amount:.4f}")
    expires = time.time() + 30
    buy, sell = await asyncio.gather(
        by_chain["ethereum"].place_order(OrderRequest("01JARBBUY0000000000000000A", "ETH/USDT", Side.BUY, amount,
                                                      Decimal(str(opp.buy_limit * 1.001)), TimeInForce.IOC, expires)),
        by_chain["bsc"].place_order(OrderRequest("01JARBSELL000000000000000A", "ETH/USDT", Side.SELL, amount,
                                                 Decimal(str(opp.sell_limit * 0.999)), TimeInForce.IOC, expires)),
    )  # fmt: skip
    assert buy.status is VenueStatus.CLOSED and sell.status is VenueStatus.CLOSED
    after = _holdings(two_chains)
    paid = before["ethereum"]["USD"] - after["ethereum"]["USD"]
    received = after["bsc"]["USD"] - before["bsc"]["USD"]
    assert paid == pytest.approx(opp.paid, rel=1e-9) and received == pytest.approx(opp.received, rel=1e-9)
    realised = received - paid - float(buy.fee + sell.fee) - opp.bridge
    assert realised == pytest.approx(opp.net, abs=0.5)  # gas was estimated before, paid after
    assert realised > 0
    # the inventory drifted: ETH piled up where it was bought; bring both assets back on paper
    assert after["ethereum"]["ETH"] - before["ethereum"]["ETH"] == pytest.approx(float(amount))
    plan = plan_rebalance(after, before, {"ETH": 2030.0, "USD": 1.0}, config.execution.arbitrage.bridge)
    moves = {(t.asset, t.from_chain, t.to_chain): t for t in plan}
    assert set(moves) == {("ETH", "ethereum", "bsc"), ("USD", "bsc", "ethereum")}
    assert moves[("ETH", "ethereum", "bsc")].amount == pytest.approx(float(amount))
    assert moves[("ETH", "ethereum", "bsc")].lands_after_s == config.execution.arbitrage.bridge.latency_s


async def test_a_gap_smaller_than_fees_gas_and_bridge_is_no_opportunity(venues) -> None:
    config, by_chain = venues
    state = await by_chain["ethereum"].pool("ETH/USDT")
    near = PoolInput(
        "near", state.base_reserve, state.base_reserve * 2004.0, state.fee, state.gas_quote, 0.05
    )
    here = PoolInput("here", state.base_reserve, state.quote_reserve, state.fee, state.gas_quote, 0.05)
    assert (
        find_opportunity([ChainPool("ethereum", here), ChainPool("bsc", near)], config.execution.arbitrage)
        is None
    )
