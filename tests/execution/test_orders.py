"""The order state machine: legal moves only, fills counted once in any order, stale reports ignored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution import orders as sm
from execution.orders import OrderState as S
from execution.venues.base import Side, TimeInForce, VenueFill, VenueOrder, VenueStatus


def _order() -> sm.ChildOrder:
    order, _ = sm.create(
        client_order_id=sm.new_client_order_id(), parent_id="P", intent_key="P:0:alpha", venue="alpha",
        symbol="BTC/USDT", asset="BTC", side=Side.BUY, amount=Decimal("1.0"), limit_price=None,
        time_in_force=TimeInForce.IOC,
    )  # fmt: skip
    return order


def _fill(order, fid: str, amount: str) -> VenueFill:
    return VenueFill("alpha", fid, order.client_order_id, "BTC/USDT", Side.BUY, Decimal("100"), Decimal(amount), Decimal("0.1"), 0.0)  # fmt: skip


def _report(order, status: VenueStatus, filled: str) -> VenueOrder:
    return VenueOrder(
        order.client_order_id, "v1", "BTC/USDT", Side.BUY, Decimal("1.0"), Decimal(filled), status
    )


def test_client_order_ids_are_unique_ulids():
    ids = {sm.new_client_order_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(len(i) == 26 for i in ids)


def test_illegal_moves_are_refused():
    o = _order()
    with pytest.raises(sm.IllegalTransition):
        sm.transition(o, S.FILLED)  # new orders were never sent
    sm.transition(o, S.SUBMITTED)
    sm.transition(o, S.CANCELLED)
    with pytest.raises(sm.IllegalTransition):
        sm.transition(o, S.SUBMITTED)  # terminal is terminal


def test_duplicate_and_out_of_order_fills_count_once_and_stale_reports_do_not_go_back():
    o = _order()
    sm.transition(o, S.SUBMITTED)
    f1, f2 = _fill(o, "f1", "0.4"), _fill(o, "f2", "0.6")
    assert sm.apply_fill(o, f2)[1].to_state is S.PARTIALLY_FILLED  # the later fill first
    assert sm.apply_fill(o, f2) == (False, None)  # repeated
    assert sm.apply_report(o, _report(o, VenueStatus.OPEN, "0")) is None  # a stale ack
    assert o.state is S.PARTIALLY_FILLED
    assert sm.apply_fill(o, f1)[1].to_state is S.FILLED
    assert o.filled == Decimal("1.0") and o.fees == Decimal("0.2") and o.average_price == Decimal("100")


def test_a_lost_answer_is_unknown_until_the_venue_says_and_a_late_fill_after_cancel_still_counts():
    o = _order()
    sm.transition(o, S.SUBMITTED)
    sm.transition(o, S.UNKNOWN, "timeout")
    assert o.live and o.remaining == Decimal("1.0")
    assert sm.apply_report(o, _report(o, VenueStatus.CANCELED, "0.3")).to_state is S.CANCELLED
    assert not o.settled  # the venue filled 0.3 that we have not seen yet
    new, event = sm.apply_fill(o, _fill(o, "f9", "0.3"))
    assert new and event is None and o.state is S.CANCELLED and o.settled
