"""The ccxt venue driving the real ccxt Binance class against a local server speaking Binance's REST."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from execution.venues.base import (
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    RateLimited,
    Side,
    TimeInForce,
    VenueStatus,
    VenueTimeout,
    VenueUnavailable,
)
from execution.venues.factory import ccxt_venue
from kimera.config import ConfigError
from kimera.settings import get_settings
from tests.execution.live.conftest import ccxt_ref, live_config
from tests.support.net import free_port


def request(
    cid: str, side: Side, amount: str, price: str, tif: TimeInForce = TimeInForce.IOC
) -> OrderRequest:
    return OrderRequest(cid, "BTC/USDT", side, Decimal(amount), Decimal(price), tif, time.time() + 2)


async def make_venue(tmp_path, server, **extra):
    get_settings.cache_clear()
    config = live_config(tmp_path, {"venues": [ccxt_ref(server, **extra)]})
    venue = ccxt_venue(config.execution.venues[0], config, get_settings())
    await venue.markets()
    return venue


@pytest.fixture
async def binance(exchange, tmp_path, kimera_home):
    server, orders = exchange
    venue = await make_venue(tmp_path, server)
    try:
        yield server, orders, venue
    finally:
        await venue.close()


def best_ask(server) -> Decimal:
    return Decimal(str(server.market.book_snapshot("BTC/USDT").levels("ask", 1)[0][0]))


async def test_rules_come_from_the_exchanges_markets_and_bad_orders_are_refused_locally(binance):
    server, orders, venue = binance
    rules = venue.rules["BTC/USDT"]
    assert (rules.price_increment, rules.amount_increment, rules.min_amount) == (
        Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"))  # fmt: skip
    assert rules.taker_fee == Decimal("0.001")
    sent = len(server.requests_to("/api/v3/order"))
    with pytest.raises(OrderRejected, match="minimum"):  # 0.0001 BTC x 30k = 3 USDT < minNotional 5
        await venue.place_order(request("01CCXTSMALL000000000000000", Side.BUY, "0.0001", "30000"))
    assert len(server.requests_to("/api/v3/order")) == sent


async def test_an_ioc_buy_fills_and_its_fills_balances_and_status_come_back_by_client_order_id(binance):
    server, orders, venue = binance
    usdt0 = orders.balance("USDT")
    limit = best_ask(server) * Decimal("1.001")
    report = await venue.place_order(request("01CCXTBUY0000000000000000A", Side.BUY, "0.25", f"{limit:.2f}"))
    assert report.status is VenueStatus.CLOSED and report.filled == Decimal("0.25")
    assert report.client_order_id == "01CCXTBUY0000000000000000A"
    again = await venue.fetch_order("BTC/USDT", "01CCXTBUY0000000000000000A")
    assert again.venue_order_id == report.venue_order_id and again.filled == Decimal("0.25")
    updates = await venue.fetch_updates(None)
    assert {f.client_order_id for f in updates.fills} == {"01CCXTBUY0000000000000000A"}
    paid = sum(f.price * f.amount for f in updates.fills)
    assert paid == usdt0 - orders.balance("USDT")
    # Binance takes a buyer's commission in the base asset; the venue reports it in the quote
    assert sum(f.fee for f in updates.fills) == pytest.approx(paid * Decimal("0.001"), rel=Decimal("1e-6"))
    assert (await venue.fetch_updates(updates.cursor)).fills == []
    held = await venue.balances()
    assert held["BTC"]["total"] == orders.balance("BTC") == Decimal(10) + Decimal("0.25") * Decimal("0.999")


async def test_a_resting_order_is_cancelled_by_client_order_id(binance):
    server, orders, venue = binance
    cid = "01CCXTGTC0000000000000000A"
    report = await venue.place_order(request(cid, Side.BUY, "0.01", "20000.00", TimeInForce.GTC))
    assert report.status is VenueStatus.OPEN
    assert [o.client_order_id for o in await venue.open_orders()] == [cid]
    cancelled = await venue.cancel_order("BTC/USDT", cid)
    assert cancelled.status is VenueStatus.CANCELED
    assert await venue.open_orders() == []
    assert orders.account.locked.get("USDT") == 0


async def test_the_sandbox_is_used_unless_the_config_says_otherwise(
    exchange, tmp_path, kimera_home, monkeypatch
):
    server, _ = exchange
    monkeypatch.setenv("KIMERA_SECRET_KRAKEN_API_KEY", "kraken-key-0000")
    monkeypatch.setenv("KIMERA_SECRET_KRAKEN_SECRET", "kraken-secret-0000")
    sandbox = await make_venue(tmp_path / "a", server)
    live = await make_venue(tmp_path / "b", server, sandbox=False)
    await sandbox.close()
    await live.close()
    hosts = [r.host for r in server.requests if r.path == "/api/v3/exchangeInfo"]
    assert hosts == ["testnet.binance.vision", "api.binance.com"]
    with pytest.raises(ConfigError, match="no sandbox"):
        config = live_config(
            tmp_path / "c", {"venues": [{**ccxt_ref(server), "exchange": "kraken", "name": "kraken"}]}
        )
        ccxt_venue(config.execution.venues[0], config, get_settings())


async def test_errors_say_what_the_order_manager_may_conclude(binance, tmp_path):
    server, orders, venue = binance
    limit = f"{best_ask(server) * Decimal('1.001'):.2f}"
    # 429: refused before processing; Retry-After is read from the answer (ccxt ignores it)
    server.faults.fail(1, status=429, retry_after="7", path="/api/v3/order")
    with pytest.raises(RateLimited) as limited:
        await venue.place_order(request("01CCXT429000000000000000AA", Side.BUY, "0.01", limit))
    assert limited.value.retry_after == 7.0
    # a 5xx on a write: the order may exist (unknown); on a read: just unavailable
    server.faults.fail(1, status=503, path="/api/v3/order")
    with pytest.raises(VenueTimeout):
        await venue.place_order(request("01CCXT503000000000000000AA", Side.BUY, "0.01", limit))
    server.faults.fail(1, status=503, path="/api/v3/order")
    with pytest.raises(VenueUnavailable):
        await venue.fetch_order("BTC/USDT", "01CCXT503000000000000000AA")
    # the exchange refuses what it cannot do: never live
    with pytest.raises(OrderRejected, match="insufficient balance"):
        await venue.place_order(request("01CCXTPOOR00000000000000AA", Side.SELL, "50", "20000.00"))
    with pytest.raises(OrderNotFound):
        await venue.fetch_order("BTC/USDT", "01CCXTNEVER0000000000000AA")
    assert orders.placed == 0


async def test_a_timeout_is_unknown_and_the_order_is_then_found_by_client_order_id(binance):
    """The answer is lost after the exchange processed the order: the venue says 'timeout' (never
    'rejected'), and asking by client order id finds the one order that exists."""
    server, orders, venue = binance
    limit = f"{best_ask(server) * Decimal('1.001'):.2f}"
    orders.lose_answers(1, seconds=5)
    with pytest.raises(VenueTimeout):
        await venue.place_order(request("01CCXTLOST00000000000000AA", Side.BUY, "0.02", limit))
    found = await venue.fetch_order("BTC/USDT", "01CCXTLOST00000000000000AA")
    assert found.status is VenueStatus.CLOSED and found.filled == Decimal("0.02")
    assert orders.placed == 1


async def test_a_request_that_arrives_after_its_expiry_is_refused_unprocessed(binance):
    """recvWindow carries the order's expiry: a stalled request is refused by the exchange, so
    'not found' after expiry means the order will never exist and may be sent again."""
    server, orders, venue = binance
    limit = f"{best_ask(server) * Decimal('1.001'):.2f}"
    server.faults.stall(1, seconds=2.5, path="/api/v3/order")
    with pytest.raises(VenueTimeout):
        await venue.place_order(request("01CCXTSTALL0000000000000AA", Side.BUY, "0.02", limit))
    time.sleep(0.8)  # the stalled request reaches the matching engine, too late
    with pytest.raises(OrderNotFound):
        await venue.fetch_order("BTC/USDT", "01CCXTSTALL0000000000000AA")
    assert orders.refused_late == 1 and orders.placed == 0


async def test_a_refused_connection_never_reached_the_exchange(exchange, tmp_path, kimera_home):
    server, _ = exchange
    venue = await make_venue(tmp_path, server)
    venue.exchange.urls["api"] = {k: v.replace(server.base_url, f"http://127.0.0.1:{free_port()}")
                                  for k, v in venue.exchange.urls["api"].items()}  # fmt: skip
    try:
        with pytest.raises(VenueUnavailable):
            await venue.place_order(request("01CCXTREFUSED00000000000AA", Side.BUY, "0.01", "30000.00"))
    finally:
        await venue.close()


async def test_the_same_client_order_id_on_a_resting_order_returns_that_order(binance):
    server, orders, venue = binance
    cid = "01CCXTDUP0000000000000000A"
    first = await venue.place_order(request(cid, Side.BUY, "0.01", "20000.00", TimeInForce.GTC))
    second = await venue.place_order(request(cid, Side.BUY, "0.01", "20000.00", TimeInForce.GTC))
    assert second.venue_order_id == first.venue_order_id and orders.placed == 1


async def test_keys_are_not_in_the_venue_repr_or_in_error_messages(
    exchange, tmp_path, kimera_home, monkeypatch
):
    from tests.execution.live.conftest import API_KEY, API_SECRET

    server, _ = exchange
    monkeypatch.setenv("KIMERA_SECRET_BINANCE_SECRET", "an-entirely-wrong-secret-00000000")
    venue = await make_venue(tmp_path, server)
    try:
        with pytest.raises(OrderRejected) as refused:  # the exchange refuses the forged signature
            await venue.place_order(request("01CCXTFORGED000000000000AA", Side.BUY, "0.01", "30000.00"))
        for text in (repr(venue), str(refused.value)):
            assert API_KEY not in text and API_SECRET not in text and "entirely-wrong" not in text
    finally:
        await venue.close()
