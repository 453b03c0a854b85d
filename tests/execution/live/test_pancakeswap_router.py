"""PancakeSwap's own router on a local chain with BSC's chain id: PancakeRouter compiled from the
Solidity sources of npm ``pancakeswap-peripheral`` 1.1.0-beta.0 (solc-js 0.6.6), over the Factory and
Pair bytecode of ``@pancakeswap-libs/pancake-swap-core`` 0.1.0. Trades through it, directly and as
Kimera's ``uniswap`` venue, get exactly what the router's own ``getAmountsOut``/``getAmountsIn``
quoted, which is what the pair's 0.2 % fee allows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from execution.venues.base import OrderRequest, Side, TimeInForce, VenueStatus
from kimera.settings import get_settings
from tests.execution.live.conftest import live_config
from tests.support.pancakeswap import create_pair, deploy_factory, deploy_router, get_amount_out, router_build

ONE = 10**18
BSC = 56


@pytest.fixture(scope="module")
def pancake() -> Iterator[dict[str, Any]]:
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer

    evm = Evm(chain_id=BSC)
    tokens = deploy_uniswap_v2(evm)  # WETH9 and plain ERC-20s; the DEX is PancakeSwap's below
    weth, usdc = tokens.weth, tokens.tokens["TKA"]
    evm.send(weth.functions.deposit(), value=2_000 * ONE)
    factory = deploy_factory(evm)
    pair = create_pair(evm, factory, weth, usdc, 1_000 * ONE, 600_000 * ONE)
    router = deploy_router(evm, factory, weth)
    trader = Account.create()
    evm.w3.eth.send_transaction({"from": evm.owner, "to": trader.address, "value": 10 * ONE})
    evm.send(weth.functions.transfer(trader.address, 50 * ONE))
    evm.send(usdc.functions.transfer(trader.address, 100_000 * ONE))
    with JsonRpcServer(evm.w3) as rpc:
        yield {"evm": evm, "weth": weth, "usdc": usdc, "factory": factory, "pair": pair, "router": router,
               "trader": trader, "rpc": rpc}  # fmt: skip


def _reserves(world: dict[str, Any]) -> tuple[int, int]:
    """(WETH, USDC) reserves of the pair."""
    r0, r1, _ = world["pair"].functions.getReserves().call()
    return (r0, r1) if world["pair"].functions.token0().call() == world["weth"].address else (r1, r0)


def test_the_router_finds_the_npm_pair_and_swaps_exactly_what_it_quotes(pancake) -> None:
    evm, weth, usdc, router = pancake["evm"], pancake["weth"], pancake["usdc"], pancake["router"]
    # the router finds pairs by CREATE2 with the npm Pair's init code hash, which the factory agrees on
    built = router_build()
    assert "0x" + pancake["factory"].functions.INIT_CODE_PAIR_HASH().call().hex() == built["initCodeHash"]
    assert built["initCodeHash"] != built["shippedInitCodeHash"]  # BSC mainnet's: another Pair build
    assert router.functions.factory().call() == pancake["factory"].address
    amount_in = 3 * ONE
    weth_reserve, usdc_reserve = _reserves(pancake)
    quoted = router.functions.getAmountsOut(amount_in, [weth.address, usdc.address]).call()
    assert quoted == [amount_in, get_amount_out(amount_in, weth_reserve, usdc_reserve)]  # 0.2 % fee
    owner = evm.owner
    evm.send(weth.functions.approve(router.address, amount_in))
    before = usdc.functions.balanceOf(owner).call()
    deadline = evm.w3.eth.get_block("latest")["timestamp"] + 600
    evm.send(router.functions.swapExactTokensForTokens(amount_in, quoted[1], [weth.address, usdc.address],
                                                       owner, deadline))  # fmt: skip
    assert usdc.functions.balanceOf(owner).call() - before == quoted[1]
    # and the exact-output way: what getAmountsIn asks is what leaves the wallet
    want = 5_000 * ONE
    asked = router.functions.getAmountsIn(want, [weth.address, usdc.address]).call()
    evm.send(weth.functions.approve(router.address, asked[0]))
    weth_before, usdc_before = weth.functions.balanceOf(owner).call(), usdc.functions.balanceOf(owner).call()
    evm.send(router.functions.swapTokensForExactTokens(want, asked[0], [weth.address, usdc.address],
                                                       owner, deadline))  # fmt: skip
    assert weth_before - weth.functions.balanceOf(owner).call() == asked[0]
    assert usdc.functions.balanceOf(owner).call() - usdc_before == want
    assert _reserves(pancake) == (weth_reserve + amount_in + asked[0], usdc_reserve - quoted[1] - want)


@pytest.fixture
async def venue(pancake, tmp_path, monkeypatch, kimera_home):
    """Kimera's ``uniswap`` venue on the PancakeSwap pair, through PancakeRouter."""
    from execution.venues.factory import uniswap_venue

    snapshot = pancake["evm"].tester.take_snapshot()
    monkeypatch.setenv("KIMERA_SECRET_PANCAKE_BSC_PRIVATE_KEY", pancake["trader"].key.hex())
    get_settings.cache_clear()
    weth_first = pancake["pair"].functions.token0().call() == pancake["weth"].address
    t0, t1 = ("WETH", "USDC") if weth_first else ("USDC", "WETH")
    chains = [{"name": "bsc", "chain_id": BSC, "tokens": [
        {"symbol": "WETH", "address": pancake["weth"].address, "decimals": 18, "asset": "ETH"},
        {"symbol": "USDC", "address": pancake["usdc"].address, "decimals": 18, "asset": "USD"}]}]  # fmt: skip
    pools = [{"address": pancake["pair"].address, "dex": "pancakeswap", "token0": t0, "token1": t1,
              "fee_bps": 20, "chain": "bsc"}]  # fmt: skip
    ref = {"name": "pancake_bsc", "type": "uniswap", "pool": pancake["pair"].address,
           "router": pancake["router"].address, "rpc_url": pancake["rpc"].url, "receipt_wait_s": 5.0, "chain": "bsc"}  # fmt: skip
    config = live_config(
        tmp_path, {"venues": [ref]}, chain=None, chains=chains, dex={"source": "sim", "pools": pools}
    )
    opened = await uniswap_venue(config.execution.venues[0], config, get_settings())
    try:
        yield opened
    finally:
        await opened.close()
        pancake["evm"].tester.revert_to_snapshot(snapshot)


async def test_kimeras_venue_trades_through_the_pancake_router_at_its_quote(pancake, venue) -> None:
    weth, usdc, router = pancake["weth"], pancake["usdc"], pancake["router"]
    who = pancake["trader"].address
    state = await venue.pool("ETH/USDT")  # the venue reads the pair the router trades
    weth_reserve, usdc_reserve = _reserves(pancake)
    assert state.fee == pytest.approx(0.002)
    assert (state.base_reserve, state.quote_reserve) == pytest.approx(
        (weth_reserve / ONE, usdc_reserve / ONE)
    )
    amount_in = 2 * ONE
    quoted = router.functions.getAmountsOut(amount_in, [weth.address, usdc.address]).call()[1]
    usdc_before = usdc.functions.balanceOf(who).call()
    expires = time.time() + 30
    order = await venue.place_order(
        OrderRequest(
            "01JPANCAKESELL00000000000A",
            "ETH/USDT",
            Side.SELL,
            Decimal(2),
            (Decimal(quoted).scaleb(-18) / 2 * Decimal("0.99")).quantize(
                Decimal("0.01")
            ),  # 1 % below its quote
            TimeInForce.IOC,
            expires,
        )  # fmt: skip
    )
    assert order.status is VenueStatus.CLOSED and order.filled == Decimal(2)
    received = usdc.functions.balanceOf(who).call() - usdc_before
    assert received == quoted  # to the wei: the router paid what it quoted
    # the venue's fill says the same (its average price is kept to 10 decimals)
    assert float(order.average_price * order.filled) == pytest.approx(quoted / ONE, rel=1e-12)
