"""The paper engine: deterministic per seed, fills against the book after latency, partial fills, fees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution.venues.base import OrderRejected, OrderRequest, RateLimited, Side, TimeInForce, VenueStatus
from execution.venues.books import SyntheticMarket, VenueShape
from execution.venues.matching import PaperExchange, PaperVenueSpec

T0 = 1_780_000_000.0


def _exchange(seed: int, session: str = "") -> PaperExchange:
    market = SyntheticMarket(
        seed=seed, venues={"alpha": VenueShape(depth_notional=20_000)}, pools={"0xpool": ("BTC", 2e7)}
    )
    specs = [
        PaperVenueSpec("alpha", fee=0.001, latency_s=0.05, rate_limit_per_s=5),
        PaperVenueSpec("pool", kind="amm", symbols=("BTC/USDT",), fee=0.003, latency_s=6, gas_quote=5.0,
                       pools={"BTC/USDT": "0xpool"}),
    ]  # fmt: skip
    return PaperExchange(market, specs, seed=seed, session=session)


def _run(seed: int) -> list[tuple]:
    ex = _exchange(seed)
    v = ex.venue("alpha")
    for i in range(4):
        v.place(
            OrderRequest(f"c{i}", "BTC/USDT", Side.BUY if i % 2 else Side.SELL, Decimal("0.3")), T0 + i * 0.01
        )
    v.advance(T0 + 1)
    return [(f.client_order_id, f.price, f.amount, f.fee) for f in v.fills]


def test_same_seed_same_fills_other_seed_other_fills():
    assert _run(1) == _run(1)
    assert _run(1) != _run(2)


def test_orders_fill_after_latency_walk_the_book_and_pay_fees():
    ex = _exchange(1)
    v = ex.venue("alpha")
    order, dup = v.place(OrderRequest("big", "BTC/USDT", Side.BUY, Decimal("2.0")), T0)
    assert order.status is VenueStatus.OPEN and not dup
    assert v.fetch("big", T0 + 0.01).filled == 0  # still on its way to the matching engine
    done = v.fetch("big", T0 + 1)
    fills = [f for f in v.fills if f.client_order_id == "big"]
    assert len(fills) > 1 and done.filled == sum(f.amount for f in fills) == Decimal("2.0")
    assert [f.price for f in fills] == sorted(f.price for f in fills)  # walked up the asks
    assert all(f.fee == (f.price * f.amount * Decimal("0.001")).quantize(Decimal("1e-8")) for f in fills)
    # the same id again is the same order, not a second one
    again, dup = v.place(OrderRequest("big", "BTC/USDT", Side.BUY, Decimal("2.0")), T0 + 2)
    assert dup and again.venue_order_id == order.venue_order_id


def test_ioc_limit_fills_partially_and_cancels_the_rest():
    ex = _exchange(1)
    v = ex.venue("alpha")
    book = v.book("BTC/USDT", T0 + 0.06, 5)
    limit = Decimal(str(round(book.asks[1, 0], 2)))
    v.place(OrderRequest("ioc", "BTC/USDT", Side.BUY, Decimal("50"), limit, TimeInForce.IOC), T0)
    o = v.fetch("ioc", T0 + 1)
    assert o.status is VenueStatus.CANCELED and 0 < o.filled < Decimal("50")


def test_venue_rules_rate_limit_and_pool_gas():
    ex = _exchange(1)
    v = ex.venue("alpha")
    with pytest.raises(OrderRejected, match="not a multiple"):
        v.place(OrderRequest("odd", "BTC/USDT", Side.BUY, Decimal("0.100001")), T0)
    for i in range(5):  # the published limit: 5 per second
        v.place(OrderRequest(f"r{i}", "BTC/USDT", Side.BUY, Decimal("0.01")), T0 + 10)
    with pytest.raises(RateLimited) as exc:
        v.place(OrderRequest("r9", "BTC/USDT", Side.BUY, Decimal("0.01")), T0 + 10)
    assert 0 < exc.value.retry_after <= 1.0
    pool = ex.venue("pool")
    pool.place(OrderRequest("swap", "BTC/USDT", Side.BUY, Decimal("0.5")), T0)
    swap = pool.fetch("swap", T0 + 10)
    assert swap.status is VenueStatus.CLOSED and swap.fee == Decimal("5.00000000")


def test_the_paper_venue_answers_every_field_of_its_orders_and_fills() -> None:
    """The hand-written JSON of orders and fills keeps up with the dataclasses (no field silently dropped)."""
    from dataclasses import asdict, fields
    from decimal import Decimal

    from execution.venues.base import VenueFill, VenueOrder
    from execution.venues.server import fill_json, order_json

    order = VenueOrder(*(f"v{i}" for i in range(4)), Decimal("1.5"), Decimal("0.5"), "open", Decimal("100.25"),
                       Decimal("0.01"), "partial", 12.5)  # fmt: skip
    fill = VenueFill(*(f"f{i}" for i in range(5)), Decimal("100.25"), Decimal("0.5"), Decimal("0.01"), 12.5)
    assert order_json(order) == asdict(order) and len(order_json(order)) == len(fields(VenueOrder))
    assert fill_json(fill) == asdict(fill) and len(fill_json(fill)) == len(fields(VenueFill))


def test_the_paper_servers_market_time_moves_forward_on_request_and_never_back():
    """A replay moves the paper market to each bar's close; the book follows it; the past stays past."""
    from starlette.testclient import TestClient

    from execution.venues.server import MarketClock, create_venue_app

    clock = MarketClock(start=T0, speed=1.0)
    with TestClient(create_venue_app(_exchange(3), clock)) as client:
        before = client.get("/venues/alpha/book", params={"symbol": "BTC/USDT"}).json()
        later = T0 + 3 * 3600
        moved = client.put("/admin/clock", json={"time": later})
        assert moved.status_code == 200 and later <= moved.json()["time"] < later + 5
        assert later <= client.get("/ping").json()["time"] < later + 5
        after = client.get("/venues/alpha/book", params={"symbol": "BTC/USDT"}).json()
        assert after != before  # the market of three hours later, not the old book
        back = client.put("/admin/clock", json={"time": T0})
        assert back.status_code == 409 and "forward only" in back.json()["message"]
        bad = client.put("/admin/clock", json={"when": "soon"})
        assert bad.status_code == 422 and '"time"' in bad.json()["message"]
        assert client.get("/ping").json()["time"] >= later


def test_a_restarted_paper_server_hands_out_new_ids_and_a_stale_cursor_reads_its_stream_from_the_start():
    """Its state is in memory: after a restart a client's journal must neither skip the new server's
    fills (an old cursor) nor take them for ones it holds (the same ids again)."""
    from starlette.testclient import TestClient

    from execution.venues.server import MarketClock, create_venue_app

    def session_run(session: str, cursor: str | None) -> tuple[list[str], str]:
        with TestClient(create_venue_app(_exchange(5, session), MarketClock(start=T0, speed=50.0))) as client:
            placed = client.post("/venues/alpha/orders", json={
                "client_order_id": f"c-{session}", "symbol": "BTC/USDT", "side": "buy", "amount": "0.1"})  # fmt: skip
            assert placed.status_code in (200, 201), placed.text
            updates: list[dict] = []
            for _ in range(100):
                page = client.get("/venues/alpha/updates", params={"after": cursor or "0"}).json()
                updates += page["updates"]
                cursor = page["next"]
                if any(u["type"] == "fill" for u in updates):
                    break
        return [u["fill_id"] for u in updates if u["type"] == "fill"], cursor

    first_fills, cursor = session_run("aaaa", None)
    second_fills, _ = session_run("bbbb", cursor)  # the journal still holds the first server's cursor
    assert first_fills and second_fills  # the new server's fills are not skipped
    assert not set(first_fills) & set(second_fills)  # nor mistaken for the old ones
