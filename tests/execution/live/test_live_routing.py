"""The service trading for real on live venues: one order routed over an exchange book and a pool."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from execution.orders import OrderState
from execution.service import ExecutionService
from kimera.config import load_config
from kimera.settings import get_settings
from tests.execution.conftest import signal
from tests.execution.live.conftest import ccxt_ref, dec, write_live_config


async def settle(service: ExecutionService, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        await service.oms.reconcile()
        if all(o.settled for o in service.oms.orders.values()) and not service.oms.busy:
            return
        await asyncio.sleep(0.2)
    raise AssertionError([(o.venue, o.state, o.filled, o.venue_filled) for o in service.oms.orders.values()])


@pytest.fixture
async def live_service(exchange, make_pool, tmp_path, monkeypatch):
    server, orders = exchange
    mid = server.market.mid("ETH/USDT", server.market.now_ms())
    dex = make_pool(mid * 0.995)  # the pool is a little cheaper than the exchange: the router uses both
    execution = {
        "venues": [ccxt_ref(server), dex.venue()],
        "risk": {"max_position_notional": 8000, "max_order_notional": 1.0e6},
    }
    path = write_live_config(tmp_path / "kimera.yaml", execution, **dex.sections())
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    service = ExecutionService(load_config(path), get_settings())
    await service.start()
    try:
        yield service, orders, dex
    finally:
        await service.stop()


async def test_one_signal_is_split_over_the_binance_book_and_the_uniswap_pool_and_both_fill(live_service):
    service, orders, dex = live_service
    weth0, usdc0 = dex.reserves()
    eth0 = orders.balance("ETH")
    answer = await service.handle_signal(signal(1, asset="ETH", forecast=0.02, width=0.004))
    assert answer["outcome"] == "orders", answer
    assert {o["venue"] for o in answer["orders"]} == {"binance", "uni"}
    await settle(service)
    by_venue = {o.venue: o for o in service.oms.orders.values()}
    assert all(o.state is OrderState.FILLED for o in by_venue.values())
    # the pool moved by exactly what the pool leg bought; the exchange account by the exchange leg
    weth1, usdc1 = dex.reserves()
    assert dec(weth0 - weth1) == by_venue["uni"].filled
    assert by_venue["uni"].cost == pytest.approx(dec(usdc1 - usdc0), abs=Decimal("1e-6"))
    bought = by_venue["binance"].filled
    assert orders.balance("ETH") - eth0 == bought - bought * Decimal("0.001")  # less the commission in ETH
    position = service.portfolio.quantity("ETH")
    assert position == by_venue["uni"].filled + bought
    assert float(position) * service.market.reference_price("ETH/USDT") == pytest.approx(8000, rel=0.01)
    # every order remembers the signal and model that caused it
    assert {(o.signal_id, o.model_tag, o.prediction_id) for o in by_venue.values()} == {
        ("sig-1", "test-model", "pred-1")
    }
