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
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer

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
                       "router": c["uni"].router.address, "rpc_url": c["rpc"].url, "receipt_wait_s": 5.0, "chain": name})  # fmt: skip
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


async def _settled(service: Any, deadline_s: float = 60.0) -> None:
    """Wait until the desk has traded and every leg it sent is settled (an observable condition)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        desk = service.arbitrage
        if desk is not None and desk.trades and all(t.settled for t in desk.trades):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(service.arbitrage.report() if service.arbitrage else "no arbitrage desk")


async def test_the_services_desk_trades_both_legs_from_inventory_and_reports_the_drift(
    two_chains, venues
) -> None:
    from execution.killswitch import SwitchState
    from execution.service import ExecutionService

    config, by_chain = venues
    inventory = {"ethereum": {"ETH": 40.0, "USDT": 150_000.0}, "bsc": {"ETH": 40.0, "USDT": 150_000.0}}
    arbitrage = config.execution.arbitrage.model_copy(
        update={"venues": ["uni_ethereum", "uni_bsc"], "interval_s": 0.1, "inventory": inventory}
    )
    config = config.model_copy(
        update={"execution": config.execution.model_copy(update={"arbitrage": arbitrage})}
    )
    before = _holdings(two_chains)
    service = ExecutionService(config, get_settings(), venues={f"uni_{n}": v for n, v in by_chain.items()})
    await service.start()
    try:
        await _settled(service)
        service.killswitch.set(SwitchState.REDUCING, "test: no further arbitrage")  # the desk only opens
        await _settled(service)
        deadline = time.monotonic() + 30  # the next look reads the pools the legs moved
        while service.arbitrage.last_basis["ETH"]["ethereum->bsc"] > 0.029 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        report = service.arbitrage.report()
    finally:
        await service.stop()
    after = _holdings(two_chains)
    trades = report["trades"]
    first = trades[0]
    # the gap was bought on the cheap chain and sold on the dear one, both legs filled in full
    assert (first["legs"]["buy"]["chain"], first["legs"]["sell"]["chain"]) == ("ethereum", "bsc")
    for t in trades:
        assert t["legs"]["buy"]["state"] == t["legs"]["sell"]["state"] == "filled"
        assert t["legs"]["buy"]["filled"] == t["legs"]["sell"]["filled"]
        assert t["realised_net"] == pytest.approx(t["predicted_net"], abs=0.5)  # gas: estimated, then paid
        assert t["realised_net"] > 0
    # the desk's inventory moved exactly as the chains did (quote at par: USDC held, USDT quoted)
    for chain in PRICES:
        held = report["inventory"][chain]
        assert held["ETH"] - inventory[chain]["ETH"] == pytest.approx(
            after[chain]["ETH"] - before[chain]["ETH"], abs=1e-9
        )
        assert held["USDT"] - inventory[chain]["USDT"] == pytest.approx(
            after[chain]["USD"] - before[chain]["USD"], rel=1e-9
        )
    bought = sum(float(t["legs"]["buy"]["filled"]) for t in trades)
    assert report["drift"]["ethereum"]["ETH"] == pytest.approx(bought) and report["drift"]["bsc"][
        "ETH"
    ] == pytest.approx(-bought)
    # and the way back is planned on paper: ETH from ethereum to bsc, the quote the other way
    moves = {(m["asset"], m["from_chain"], m["to_chain"]): m for m in report["rebalance"]}
    assert set(moves) == {("ETH", "ethereum", "bsc"), ("USDT", "bsc", "ethereum")}
    assert moves[("ETH", "ethereum", "bsc")]["amount"] == pytest.approx(bought)
    assert moves[("ETH", "ethereum", "bsc")]["lands_after_s"] == config.execution.arbitrage.bridge.latency_s
    # the 3 % gap it traded on closed to within the pools' fees (0.3 % each) and the costs
    assert 0 < report["basis"]["ETH"]["ethereum->bsc"] < 0.01
    # the desk's tallies, as the demo's summary line prints them: every trade seen first, its
    # realised net summed, the widest gap (the 3 % it traded on) far above its cost floor
    from kimera.app.report.arbitrage_section import line

    assert report["taken"] == len(trades) and report["opportunities_seen"] >= len(trades)
    assert report["looks"] >= report["opportunities_seen"]
    assert report["realised_net"] == pytest.approx(sum(t["realised_net"] for t in trades))
    widest = report["widest_gap"]
    assert (widest["buy_chain"], widest["sell_chain"]) == ("ethereum", "bsc")
    assert widest["gap_bps"] == pytest.approx(300.0, rel=1e-6) and widest["cost_floor_bps"] < 300.0
    printed = line({"enabled": True, **report})
    assert f"{len(trades)} taken, net P&L {report['realised_net']:+,.2f}" in printed
    assert "bridge plan: 2 transfer(s) on paper" in printed and "landing after 900 s" in printed
