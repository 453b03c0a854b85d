"""Pre-trade refusals are recorded with their reason; the kill switch stops new orders at once and lets cancels pass."""

from __future__ import annotations

import asyncio
import time

from execution.killswitch import SwitchState
from tests.execution.conftest import signal


async def test_kill_switch_halts_new_orders_within_a_second_and_cancels_pass(service, paper):
    first = await service.handle_signal(signal(1, forecast=0.004))
    assert first["outcome"] == "orders", first
    halted_at = time.time()
    await service.set_kill_switch(SwitchState.HALTED, "test halt", cancel_open=False)
    answers = await asyncio.gather(
        *(service.handle_signal(signal(i, forecast=-0.004 * i)) for i in range(2, 8))
    )
    assert time.time() - halted_at < 1.0
    assert all(a["outcome"] == "refused" and a["refusals"][0]["reason"] == "kill_switch" for a in answers)
    # the venue got no order after the switch
    placed_after = [o for v in paper.state().values() for o in v["orders"] if o["timestamp"] and o["client_order_id"]
                    not in {x["client_order_id"] for x in first["orders"]}]  # fmt: skip
    assert placed_after == []
    # cancels pass while halted
    live = [o for o in service.oms.orders.values() if o.live]
    for o in live:
        assert (await service.cancel(o.client_order_id)).state.value in ("cancelled", "filled")
    # the refusals are in the journal with their reason, and counted in /metrics
    reasons = service.journal.query("SELECT reason, COUNT(*) FROM refusals GROUP BY reason")
    assert ("kill_switch", 6) in reasons
    assert b'kimera_execution_refusals_total{reason="kill_switch"} 6.0' in service.metrics.render()


async def test_reducing_lets_only_position_reducing_orders_through(service, paper):
    small = await service.handle_signal(
        signal(1, forecast=0.0015, width=0.05)
    )  # an unsure model: a small position
    assert small["outcome"] == "orders", small
    assert small["target"] * service.market.reference_price("BTC/USDT") < 25_000
    for _ in range(50):
        await asyncio.sleep(0.1)
        if service.portfolio.quantity("BTC") > 0 and not any(o.live for o in service.oms.orders.values()):
            break
    assert service.portfolio.quantity("BTC") > 0, [(o.state, o.reason) for o in service.oms.orders.values()]
    await service.set_kill_switch(SwitchState.REDUCING, "wind down", cancel_open=False)
    more = await service.handle_signal(signal(2, forecast=0.006, width=0.008))
    assert more["outcome"] == "refused" and more["refusals"][0]["reason"] == "kill_switch", more
    less = await service.handle_signal(signal(3, forecast=0.0))
    assert less["outcome"] == "orders", less
    assert {o["side"] for o in less["orders"]} == {"sell"}


async def test_price_band_position_and_rate_limits_refuse_with_reasons(service, paper):
    from execution.risk import PreTradeRisk
    from kimera.config import ExecutionRisk

    ref = service.market.reference_price("BTC/USDT")
    risk = PreTradeRisk(
        ExecutionRisk(price_band_bps=20, max_order_notional=1000, max_position_notional=5000), {"alpha": 2.0}
    )
    assert risk.check_child("alpha", 0.001, ref * 1.01, ref).reason == "price_band"
    assert risk.check_child("alpha", 1.0, ref, ref).reason == "max_order_notional"
    assert risk.check_child("alpha", 0.001, ref * 1.001, ref) is None
    assert risk.check_parent(service.killswitch, 0.0, 1.0, ref, 0.0).reason == "max_position"
    assert risk.check_parent(service.killswitch, 0.0, 0.01, ref, -10_000.0).reason == "daily_loss"
    assert risk.check_parent(service.killswitch, 0.05, -0.01, ref, -10_000.0) is None  # reducing passes
    # 80% of a published 2/s: one order now, then the venue is out of budget
    assert risk.venues_with_capacity(["alpha"]) == ["alpha"]
    risk.spend("alpha")
    assert risk.venues_with_capacity(["alpha"]) == []
