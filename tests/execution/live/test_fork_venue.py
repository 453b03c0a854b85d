"""The Uniswap venue on a SushiSwap pool: the same V2 venue through the fork's own Router02, by
configuration only (the pool's ``dex: sushiswap``, the venue's ``router``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from execution.venues.base import OrderRequest, Side, TimeInForce, VenueStatus
from execution.venues.factory import uniswap_venue
from kimera.settings import get_settings
from marketsim.local_evm import get_amount_out
from tests.execution.live.conftest import live_config

ONE = 10**18


@pytest.fixture(scope="module")
def sushi_chain() -> Iterator[dict[str, Any]]:
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.sushiswap import deploy_sushiswap

    evm = Evm()
    uni = deploy_uniswap_v2(evm)  # its WETH9 and test tokens; the pool and router are SushiSwap's
    evm.send(uni.weth.functions.deposit(), value=2_000 * ONE)
    sushi = deploy_sushiswap(evm, uni.weth, uni.tokens)
    usdc = uni.tokens["TKA"]
    pair = sushi.create_pair(uni.weth, usdc, 1000 * ONE, 2_000_000 * ONE)
    trader = Account.create()
    evm.w3.eth.send_transaction({"from": evm.owner, "to": trader.address, "value": 10 * ONE})
    evm.send(uni.weth.functions.transfer(trader.address, 20 * ONE))
    with JsonRpcServer(evm.w3) as rpc:
        yield {
            "evm": evm,
            "sushi": sushi,
            "weth": uni.weth,
            "usdc": usdc,
            "pair": pair,
            "rpc": rpc,
            "trader": trader,
        }


async def test_a_sell_on_a_sushiswap_pool_goes_through_sushiswaps_router(sushi_chain, tmp_path, monkeypatch,
                                                                         kimera_home) -> None:  # fmt: skip
    c = sushi_chain
    monkeypatch.setenv("KIMERA_SECRET_SUSHI_PRIVATE_KEY", c["trader"].key.hex())
    get_settings.cache_clear()
    weth_first = c["pair"].functions.token0().call() == c["weth"].address
    t0, t1 = ("WETH", "USDC") if weth_first else ("USDC", "WETH")
    sections = {
        "chain": {"source": "sim", "tokens": [
            {"symbol": "WETH", "address": c["weth"].address, "decimals": 18, "asset": "ETH"},
            {"symbol": "USDC", "address": c["usdc"].address, "decimals": 18, "asset": "USD"}]},
        "dex": {"source": "sim", "pools": [
            {"address": c["pair"].address, "dex": "sushiswap", "token0": t0, "token1": t1, "fee_bps": 30}]},
    }  # fmt: skip
    venue = {"name": "sushi", "type": "uniswap", "pool": c["pair"].address, "router": c["sushi"].router.address,
             "rpc_url": c["rpc"].url, "receipt_wait_s": 5.0}  # fmt: skip
    config = live_config(tmp_path, {"venues": [venue]}, **sections)
    v = await uniswap_venue(config.execution.venues[0], config, get_settings())
    try:
        r0, r1, _ = c["pair"].functions.getReserves().call()
        weth_r, usdc_r = (r0, r1) if weth_first else (r1, r0)
        before = c["usdc"].functions.balanceOf(c["trader"].address).call()
        report = await v.place_order(OrderRequest("01JSUSHI00000000000000000A", "ETH/USDT", Side.SELL, Decimal(2),
                                                  Decimal(1900), TimeInForce.IOC, time.time() + 5))  # fmt: skip
        assert report.status is VenueStatus.CLOSED and report.filled == Decimal(2)
        received = c["usdc"].functions.balanceOf(c["trader"].address).call() - before
        assert received == get_amount_out(2 * ONE, weth_r, usdc_r)
    finally:
        await v.close()
