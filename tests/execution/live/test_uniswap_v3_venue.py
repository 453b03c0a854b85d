"""The Uniswap venue on a V3 pool: the real SwapRouter, positions over several tick ranges, swaps that
cross ticks filled for exactly what the venue quoted, slippage bound and deadline sent with each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from execution.amm.v3 import quote_exact_input, quote_exact_output, sqrt_ratio_at_tick, swap
from execution.amm.v3_state import read_pool
from execution.router import pool_cost, route
from execution.venues.base import OrderRejected, OrderRequest, Side, TimeInForce, VenueStatus
from execution.venues.factory import uniswap_venue
from kimera.settings import get_settings
from tests.execution.live.conftest import dec, live_config

ONE = 10**18


@dataclass
class V3Dex:
    evm: Any
    uni: Any
    rpc: Any
    pool: Any
    usdc: Any
    trader: str
    weth_is_token0: bool

    @property
    def weth(self) -> Any:
        return self.uni.weth

    def balance(self, token: Any) -> int:
        return token.functions.balanceOf(self.trader).call()

    def state(self):
        return read_pool(self.evm.w3, self.pool.address, words=4)

    def sections(self) -> dict[str, Any]:
        t0, t1 = ("WETH", "USDC") if self.weth_is_token0 else ("USDC", "WETH")
        return {
            "chain": {"source": "sim", "tokens": [
                {"symbol": "WETH", "address": self.weth.address, "decimals": 18, "asset": "ETH"},
                {"symbol": "USDC", "address": self.usdc.address, "decimals": 18, "asset": "USD"},
            ]},
            "dex": {"source": "sim", "pools": [
                {"address": self.pool.address, "dex": "uniswap_v3", "token0": t0, "token1": t1, "fee_bps": 30}
            ]},
        }  # fmt: skip

    def venue(self, **extra: Any) -> dict[str, Any]:
        return {"name": "uni3", "type": "uniswap", "pool": self.pool.address, "router": self.uni.router.address,
                "rpc_url": self.rpc.url, "receipt_wait_s": 5.0, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def _v3_dex() -> Iterator[V3Dex]:
    from marketsim.local_evm import Evm
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.uniswap_v3 import deploy_uniswap_v3

    evm = Evm()
    uni = deploy_uniswap_v3(evm)
    evm.send(uni.weth.functions.deposit(), value=5_000 * ONE)
    usdc = uni.tokens["TKA"]
    weth_is_token0 = int(uni.weth.address, 16) < int(usdc.address, 16)
    centre = (76_020 if weth_is_token0 else -76_020) // 60 * 60  # 2000 USDC per WETH
    pool = uni.create_pool(uni.weth, usdc, 3000, sqrt_ratio_at_tick(centre))
    for lower, upper in ((-1200, 1200), (-3000, -60), (60, 3000), (-12000, 12000)):
        uni.mint(pool, centre + lower, centre + upper, 200 * ONE, 400_000 * ONE)
    account = Account.create()
    evm.w3.eth.send_transaction({"from": evm.owner, "to": account.address, "value": 10 * ONE})
    evm.send(uni.weth.functions.transfer(account.address, 100 * ONE))
    evm.send(usdc.functions.transfer(account.address, 1_000_000 * ONE))
    with JsonRpcServer(evm.w3) as rpc:
        dex = V3Dex(evm, uni, rpc, pool, usdc, account.address, weth_is_token0)
        dex.key = account.key.hex()
        yield dex


@pytest.fixture
async def venue(_v3_dex: V3Dex, tmp_path, monkeypatch, kimera_home):
    dex = _v3_dex
    snapshot = dex.evm.tester.take_snapshot()
    monkeypatch.setenv("KIMERA_SECRET_UNI3_PRIVATE_KEY", dex.key)
    get_settings.cache_clear()
    config = live_config(tmp_path, {"venues": [dex.venue()]}, **dex.sections())
    v = await uniswap_venue(config.execution.venues[0], config, get_settings())
    try:
        yield dex, v
    finally:
        await v.close()
        dex.evm.tester.enable_auto_mine_transactions()
        dex.evm.tester.revert_to_snapshot(snapshot)


def order(cid: str, side: Side, amount: str, limit: str | None) -> OrderRequest:
    return OrderRequest(cid, "ETH/USDT", side, Decimal(amount), None if limit is None else Decimal(limit),
                        TimeInForce.IOC, time.time() + 5)  # fmt: skip


async def test_a_buy_across_ticks_pays_exactly_the_venues_quote(venue) -> None:
    dex, v = venue
    state = dex.state()
    zero_for_one = not dex.weth_is_token0  # USDC in
    assert swap(state, zero_for_one, -25 * ONE).ticks_crossed >= 1  # this buy crosses initialised ticks
    quoted = quote_exact_output(state, zero_for_one, 25 * ONE)
    weth0, usdc0 = dex.balance(dex.weth), dex.balance(dex.usdc)
    report = await v.place_order(order("01JV3BUY00000000000000000A", Side.BUY, "25", "2300"))
    assert report.status is VenueStatus.CLOSED and report.filled == Decimal(25)
    assert dex.balance(dex.weth) - weth0 == 25 * ONE
    assert usdc0 - dex.balance(dex.usdc) == quoted  # to the wei
    (fill,) = (await v.fetch_updates(None)).fills
    assert fill.side is Side.BUY and fill.amount == Decimal(25)
    assert fill.price * fill.amount == pytest.approx(dec(quoted), abs=Decimal("1e-6"))


async def test_a_sell_across_ticks_receives_exactly_the_venues_quote(venue) -> None:
    dex, v = venue
    state = dex.state()
    quoted = quote_exact_input(state, dex.weth_is_token0, 30 * ONE)
    usdc0 = dex.balance(dex.usdc)
    report = await v.place_order(order("01JV3SELL0000000000000000A", Side.SELL, "30", "1700"))
    assert report.status is VenueStatus.CLOSED
    assert dex.balance(dex.usdc) - usdc0 == quoted
    assert swap(state, dex.weth_is_token0, 30 * ONE).tick == dex.pool.functions.slot0().call()[1]


async def test_the_routers_price_for_the_pool_is_what_the_swap_then_costs(venue) -> None:
    dex, v = venue
    pool = await v.pool("ETH/USDT")
    assert pool.concentrated is not None and pool.mid == pytest.approx(2000, rel=0.01)
    plan = route(Side.BUY, 12.0, [], [pool.concentrated], lot=0.01)
    (leg,) = plan.legs
    assert leg.amount == pytest.approx(12.0)
    usdc0 = dex.balance(dex.usdc)
    await v.place_order(order("01JV3ROUTE000000000000000A", Side.BUY, "12", None))
    paid = float(dec(usdc0 - dex.balance(dex.usdc)))
    assert pool_cost(pool.concentrated, Side.BUY, 12.0) == pytest.approx(paid, rel=1e-9)


async def test_a_limit_the_pool_cannot_meet_is_refused_before_anything_is_sent(venue) -> None:
    dex, v = venue
    nonce = dex.evm.w3.eth.get_transaction_count(dex.trader)
    with pytest.raises(OrderRejected, match="beyond the limit"):
        await v.place_order(order("01JV3LIM0000000000000000A", Side.BUY, "25", "2001"))
    assert dex.evm.w3.eth.get_transaction_count(dex.trader) == nonce


async def test_a_price_moved_past_the_slippage_bound_never_fills(venue) -> None:
    """Someone else's large buy lands first, in the same block: the bound sent with ours holds."""
    dex, v = venue
    evm, uni = dex.evm, dex.uni
    weth0 = dex.balance(dex.weth)
    uni._approve_router(dex.usdc, evm.owner)
    evm.tester.disable_auto_mine_transactions()
    try:
        params = (
            dex.usdc.address,
            dex.weth.address,
            3000,
            evm.owner,
            evm.block_time() + 600,
            80 * ONE,
            2**255,
            0,
        )
        evm.w3.eth.send_transaction({"from": evm.owner, "to": uni.router.address,
                                     "data": uni.router.encode_abi("exactOutputSingle", args=[params])})  # fmt: skip
        try:
            placing = asyncio.create_task(
                v.place_order(order("01JV3SLIP00000000000000A", Side.BUY, "10", None))
            )
            while v.store.get("01JV3SLIP00000000000000A") is None and not placing.done():
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # stored, then broadcast
            with dex.rpc._lock:  # one block: the other swap first, then ours
                evm.tester.mine_blocks(1)
            await placing
            report = await v.fetch_order("ETH/USDT", "01JV3SLIP00000000000000A")
            assert report.status is VenueStatus.REJECTED and "reverted" in report.reason
        except OrderRejected as refused:  # the node's gas estimate already saw the other swap
            assert "revert" in str(refused)
    finally:
        evm.tester.enable_auto_mine_transactions()
    assert dex.balance(dex.weth) == weth0
