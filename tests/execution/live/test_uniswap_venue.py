"""The Uniswap V2 venue on eth-tester with the real Router02, WETH9 and pair: swaps signed locally."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from execution.venues.base import OrderNotFound, OrderRejected, OrderRequest, Side, TimeInForce, VenueStatus
from execution.venues.factory import uniswap_venue
from kimera.settings import get_settings
from marketsim.local_evm import get_amount_out
from tests.execution.live.conftest import dec, live_config


def order(cid: str, side: Side, amount: str, limit: str | None) -> OrderRequest:
    return OrderRequest(cid, "ETH/USDT", side, Decimal(amount), None if limit is None else Decimal(limit),
                        TimeInForce.IOC, time.time() + 5)  # fmt: skip


@pytest.fixture
async def venue(make_pool, tmp_path):
    dex = make_pool(2000.0)
    config = live_config(tmp_path, {"venues": [dex.venue()]}, **dex.sections())
    v = await uniswap_venue(config.execution.venues[0], config, get_settings())
    try:
        yield dex, v
    finally:
        await v.close()


async def test_a_buy_takes_exactly_what_the_pool_gives_and_the_reserves_move_by_the_fill(venue):
    dex, v = venue
    weth0, usdc0 = dex.reserves()
    trader_usdc0 = dex.balance(dex.usdc)
    expected_in = (usdc0 * 1000 * 10**18) // ((weth0 - 10**18) * 997) + 1  # getAmountIn for 1 WETH out
    report = await v.place_order(order("01JBUY0000000000000000000A", Side.BUY, "1", "2100"))
    assert report.status is VenueStatus.CLOSED and report.filled == Decimal(1)
    weth1, usdc1 = dex.reserves()
    assert weth0 - weth1 == 10**18  # exactly the base amount ordered
    assert usdc1 - usdc0 == expected_in == trader_usdc0 - dex.balance(dex.usdc)
    updates = await v.fetch_updates(None)
    (fill,) = updates.fills
    assert fill.client_order_id == "01JBUY0000000000000000000A" and fill.side is Side.BUY
    assert fill.amount == Decimal(1)
    assert fill.price * fill.amount == pytest.approx(dec(usdc1 - usdc0), abs=Decimal("1e-9"))
    assert fill.fee > 0  # gas, in USDC
    assert report.average_price == fill.price
    again = await v.fetch_updates(updates.cursor)
    assert again.fills == []


async def test_a_sell_puts_in_exactly_the_amount_and_gets_the_pools_formula(venue):
    dex, v = venue
    weth0, usdc0 = dex.reserves()
    report = await v.place_order(order("01JSELL000000000000000000A", Side.SELL, "0.5", "1900"))
    assert report.status is VenueStatus.CLOSED
    weth1, usdc1 = dex.reserves()
    assert weth1 - weth0 == 5 * 10**17
    assert usdc0 - usdc1 == get_amount_out(5 * 10**17, weth0, usdc0)


async def test_a_limit_the_router_cannot_meet_is_refused_before_anything_is_sent(venue):
    dex, v = venue
    before = dex.evm.w3.eth.get_transaction_count(dex.trader)
    with pytest.raises(OrderRejected, match="beyond the limit"):
        await v.place_order(order("01JLIM0000000000000000000A", Side.BUY, "1", "1990"))
    assert dex.evm.w3.eth.get_transaction_count(dex.trader) == before
    with pytest.raises(OrderNotFound):
        await v.fetch_order("ETH/USDT", "01JLIM0000000000000000000A")


async def test_a_swap_that_reverts_on_chain_is_rejected_though_its_gas_limit_was_explicit(venue):
    """Mined after its deadline, the router reverts: nothing raises (explicit gas), the receipt says 0."""
    dex, v = venue
    evm = dex.evm
    weth0, _ = dex.reserves()
    evm.tester.disable_auto_mine_transactions()
    try:
        placing = asyncio.create_task(
            v.place_order(order("01JREV0000000000000000000A", Side.BUY, "2", "2100"))
        )
        while v.store.get("01JREV0000000000000000000A") is None:  # signed, stored, being broadcast
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        with dex.rpc._lock:  # the node is not answering the venue while we move its clock
            evm.tester.time_travel(evm.block_time() + 3600)
            evm.tester.mine_blocks(1)
    finally:
        evm.tester.enable_auto_mine_transactions()
    report = await placing
    assert report.status is VenueStatus.REJECTED and "reverted" in report.reason
    assert report.fee > 0  # the gas was paid all the same
    assert dex.reserves()[0] == weth0
    receipt = evm.w3.eth.get_transaction_receipt(report.venue_order_id)
    assert (
        receipt.status == 0 and receipt.gasUsed < dex.evm.w3.eth.get_transaction(report.venue_order_id)["gas"]
    )


async def test_orders_sent_together_get_consecutive_nonces_and_all_execute(venue):
    dex, v = venue
    weth0, _ = dex.reserves()
    reports = await asyncio.gather(
        *(v.place_order(order(f"01JNONCE00000000000000000{i}", Side.BUY, "0.1", "2100")) for i in range(4))
    )
    assert all(r.status is VenueStatus.CLOSED for r in reports)
    nonces = sorted(v.store.get(r.client_order_id)["nonce"] for r in reports)
    assert nonces == list(range(nonces[0], nonces[0] + 4))
    assert weth0 - dex.reserves()[0] == 4 * 10**17


async def test_placing_the_same_client_order_id_twice_swaps_once(venue):
    dex, v = venue
    weth0, _ = dex.reserves()
    first = await v.place_order(order("01JTWICE00000000000000000A", Side.BUY, "0.2", "2100"))
    second = await v.place_order(order("01JTWICE00000000000000000A", Side.BUY, "0.2", "2100"))
    assert first.venue_order_id == second.venue_order_id and second.status is VenueStatus.CLOSED
    assert weth0 - dex.reserves()[0] == 2 * 10**17


async def test_after_a_restart_the_order_and_its_fills_are_found_again(venue, tmp_path):
    """A new venue object (the service restarted) finds the swap by client order id and reads its fill
    from the pool's logs; the swap's calldata names the order too."""
    dex, v = venue
    await v.place_order(order("01JRESTART000000000000000A", Side.SELL, "0.3", "1900"))
    config = live_config(tmp_path / "again", {"venues": [dex.venue()]}, **dex.sections())
    again = await uniswap_venue(config.execution.venues[0], config, get_settings())
    try:
        again.start_block = 0  # a journal cursor from before the swap
        report = await again.fetch_order("ETH/USDT", "01JRESTART000000000000000A")
        assert report.status is VenueStatus.CLOSED and report.filled == Decimal("0.3")
        updates = await again.fetch_updates("0")
        assert [f.client_order_id for f in updates.fills] == ["01JRESTART000000000000000A"]
        assert await again._cid_from_calldata(report.venue_order_id) == "01JRESTART000000000000000A"
    finally:
        await again.close()


async def test_pool_state_and_rules_come_from_the_chain(venue):
    dex, v = venue
    pool = await v.pool("ETH/USDT")
    assert pool.base_reserve == pytest.approx(1000.0) and pool.mid == pytest.approx(2000.0)
    assert 0 < pool.gas_quote < 5  # ~130k gas at ~1.5 gwei, priced at 2000 USDC per ETH
    rules = (await v.markets())["ETH/USDT"]
    assert rules.taker_fee == Decimal("0.003") and rules.gas_quote > 0
    held = await v.balances()
    assert held["ETH"]["total"] > 9


def test_only_a_node_that_says_slow_down_counts_as_rate_limited() -> None:
    """A receipt not found yet, whose hash happens to contain "429", is not a rate limit."""
    from web3.exceptions import TransactionNotFound, Web3RPCError

    from connect.evm import rate_limited

    tx = "0x51f8e70f5c684c71a125e7899f9150922f65bf8e3bff00578429b6d237bdca51"
    assert not rate_limited(TransactionNotFound(f"Transaction with hash: '{tx}' not found."))
    assert not rate_limited(Web3RPCError(f"execution reverted in {tx}"))
    assert not rate_limited(Web3RPCError("generated an accurate estimate"))
    assert rate_limited(Web3RPCError("429 Client Error: Too Many Requests for url"))
    assert rate_limited(Web3RPCError("daily request limit reached"))
    assert rate_limited(Web3RPCError("slow down", rpc_response={"error": {"code": -32005, "message": "x"}}))
