"""Aave V3 deployed for real (two reserves): supply, borrow, repay and a liquidation triggered by moving
the price oracle; the lending source reads every event and reserve state as the chain has them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from web3 import Web3

from kimera.schema import LENDING_EVENTS, LENDING_RESERVES, conform
from pipelines.sources.lending import RpcLendingSource
from pipelines.sources.rows import EPOCH
from tests.pipelines.sources.conftest import FAST_RETRY
from tests.support.config import config_with

USDC, WETH = 10**6, 10**18


@pytest.fixture(scope="module")
def aave_chain() -> Iterator[dict[str, Any]]:
    from tests.support.aave import deploy_aave_v3
    from tests.support.evm import Evm
    from tests.support.rpc_server import JsonRpcServer

    evm = Evm()
    aave = deploy_aave_v3(evm)
    with JsonRpcServer(evm.w3) as rpc:
        yield {"evm": evm, "aave": aave, "rpc": rpc}


def test_supply_borrow_repay_and_a_liquidation_by_the_oracle_land_as_the_chain_has_them(
    aave_chain, kimera_home
):
    evm, aave, rpc = aave_chain["evm"], aave_chain["aave"], aave_chain["rpc"]
    pool, usdc, weth = aave.pool, aave.tokens["USDC"], aave.tokens["WETH"]
    supplier, borrower, liquidator = (a.lower() for a in evm.accounts[1:4])
    s, b, q = evm.accounts[1:4]
    aave.fund("USDC", s, 1_000_000 * USDC)
    aave.fund("WETH", b, 10 * WETH)
    aave.fund("USDC", q, 100_000 * USDC)
    aave.fund("USDC", b, 0)
    first = evm.head + 1
    evm.send(pool.functions.supply(usdc.address, 1_000_000 * USDC, s, 0), sender=s)
    evm.send(pool.functions.supply(weth.address, 10 * WETH, b, 0), sender=b)
    borrowed = evm.send(pool.functions.borrow(usdc.address, 15_000 * USDC, 2, 0, b), sender=b)
    evm.send(pool.functions.repay(usdc.address, 5_000 * USDC, 2, b), sender=b)
    assert pool.functions.getUserAccountData(b).call()[5] > 10**18  # healthy at 2000 USD per WETH
    aave.set_price("WETH", 1100)
    assert pool.functions.getUserAccountData(b).call()[5] < 10**18  # the oracle moved: liquidatable
    seized_before = weth.functions.balanceOf(q).call()
    liquidation = evm.send(
        pool.functions.liquidationCall(weth.address, usdc.address, b, 5_000 * USDC, False), sender=q
    )
    seized = weth.functions.balanceOf(q).call() - seized_before

    tokens = [
        {"symbol": "USDC", "address": usdc.address, "decimals": 6},
        {"symbol": "WETH", "address": weth.address},
    ]
    config = config_with(
        chain={"source": "rpc", "name": "testchain", "rpc_url": rpc.url, "confirmations": 0, "tokens": tokens,
               "retry": FAST_RETRY},
        lending={"source": "rpc", "markets": [{"address": pool.address, "protocol": "aave_v3"}]},
    )  # fmt: skip
    source = RpcLendingSource(config)
    window = (
        EPOCH + timedelta(seconds=evm.block_time(first)),
        EPOCH + timedelta(seconds=evm.block_time() + 1),
    )
    events = conform(LENDING_EVENTS, source.events(*window)).to_pylist()
    states = conform(LENDING_RESERVES, source.reserves(*window)).to_pylist()

    got = [(e["event"], e["reserve"], e["user"], e["caller"], e["amount"]) for e in events]
    u, w = usdc.address.lower(), weth.address.lower()
    assert got == [
        ("supply", u, supplier, supplier, 1_000_000.0),
        ("supply", w, borrower, borrower, 10.0),
        ("borrow", u, borrower, borrower, 15_000.0),
        ("repay", u, borrower, borrower, 5_000.0),
        ("liquidation", u, borrower, liquidator, 5_000.0),
    ]
    liquidated = events[-1]
    assert liquidated["collateral_reserve"] == w and liquidated["collateral_amount"] == seized / WETH
    assert liquidated["tx_hash"] == Web3.to_hex(liquidation.transactionHash)
    borrow_rate = pool.functions.getReserveData(usdc.address).call(block_identifier=borrowed.blockNumber)[4]
    assert events[2]["borrow_rate"] == borrow_rate / 10**27 > 0
    last_usdc = [r for r in states if r["reserve"] == u][-1]
    data = pool.functions.getReserveData(usdc.address).call()
    assert (
        last_usdc["variable_borrow_rate"] == data[4] / 10**27 and last_usdc["supply_rate"] == data[2] / 10**27
    )
    debt = aave.evm.w3.eth.contract(address=data[10], abi=usdc.abi)
    assert last_usdc["total_borrowed"] == pytest.approx(debt.functions.totalSupply().call() / USDC, rel=1e-12)
    assert 0 < last_usdc["total_borrowed"] / last_usdc["total_supplied"] < 0.02  # utilisation: ~5k of ~1M
