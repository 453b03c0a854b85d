"""The answer to a signal goes out once the venue acked, before the ack's own journal commit
(docs/execution.md, "What is durable when the answer arrives"). A crash in that window loses only
the journal's copy of the ack: the order was durable as ``submitted`` before the venue was called,
and restart reconciliation asks the venue, so the order ends in the venue's state, once."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from execution.orders import OrderState
from execution.service import ExecutionService
from kimera.config import load_config
from kimera.settings import get_settings
from tests.execution.conftest import FAST, free_port, signal, start_paper, stop, write_config

# no fill poll and no periodic reconcile while the first copy runs: only restart reconciliation may
# repair the journal, so the test sees the window itself
QUIET = {**FAST, "oms": {**FAST["oms"], "fill_poll_interval_s": 3600.0, "reconcile_interval_s": 3600.0}}


@pytest.fixture
def paper_env(kimera_home, tmp_path, monkeypatch):
    port = free_port()
    paper = {"url": f"http://127.0.0.1:{port}", "port": port}
    path = write_config(tmp_path / "kimera.yaml", {**QUIET, "paper": {**QUIET["paper"], **paper}})
    # the restarted service polls fills as it normally does: the venue may fill an order after the
    # restart's reconciliation found it open, and only a poll would then hear of it
    restart = write_config(tmp_path / "restart.yaml", {**FAST, "paper": {**FAST["paper"], **paper}})
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    server = start_paper(path, port)
    try:
        yield path, server, restart
    finally:
        stop(server.proc)


def _journal_orders(service: ExecutionService, cids: list[str]) -> dict[str, tuple[str, str]]:
    marks = ",".join("?" * len(cids))
    rows = service.journal.query(f"SELECT client_order_id, state, filled FROM orders WHERE client_order_id IN ({marks})", tuple(cids))  # fmt: skip
    return {r[0]: (r[1], r[2]) for r in rows}


def _venue_filled(paper, cids: list[str]) -> dict[str, Decimal]:
    return {
        o["client_order_id"]: Decimal(o["filled"])
        for v in paper.state().values()
        for o in v["orders"]
        if o["client_order_id"] in cids
    }


def _events_chain(service: ExecutionService, cid: str) -> list[tuple[str, str]]:
    rows = service.journal.query(
        "SELECT from_state, to_state FROM order_events WHERE client_order_id = ? ORDER BY seq", (cid,)
    )
    return [(r[0], r[1]) for r in rows]


async def test_a_crash_after_the_answer_before_the_ack_commit_is_recovered_once(paper_env) -> None:
    path, paper, restart = paper_env
    first = ExecutionService(load_config(path), get_settings())
    await first.start()
    held: list = []
    try:
        # the writer never gets the venue's answers: as if the process died before their commit
        first.journal.write_behind = held.append
        answer = await first.handle_signal(signal(1, forecast=0.004))
        assert answer["outcome"] == "orders"
        cids = [o["client_order_id"] for o in answer["orders"]]
        answered = {o["client_order_id"]: o["state"] for o in answer["orders"]}
        # the answer reports what the venue said ...
        assert all(s not in ("new", "submitted", "unknown") for s in answered.values()), answered
        # ... while the journal still holds each order as submitted (durable before the venue call)
        assert {c: s for c, (s, _) in _journal_orders(first, cids).items()} == dict.fromkeys(
            cids, "submitted"
        )
        assert len(held) == len(cids)
    finally:
        await first.stop()  # the held units are dropped: nothing but a restart repairs the journal

    again = ExecutionService(load_config(restart), get_settings())
    await again.start()  # restart reconciliation: submitted -> unknown -> the venue's state
    try:
        # until every order is done and holds the venue's fills: an IOC's fill may reach the journal
        # on the poll after the reconciliation that closed the order (a late fill, counted)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            venue = await asyncio.to_thread(_venue_filled, paper, cids)
            orders = [again.oms.orders[c] for c in cids]
            if not any(o.live for o in orders) and all(
                o.filled == venue.get(o.client_order_id) for o in orders
            ):
                break
            await asyncio.sleep(0.05)
        await again.oms.drain(timeout=30)
        await again.journal.settled()
        journaled = _journal_orders(again, cids)
    finally:
        await again.stop()

    venue_state = paper.state()
    venue_orders = [o for v in venue_state.values() for o in v["orders"] if o["client_order_id"] in cids]
    venue_fills = [f for v in venue_state.values() for f in v["fills"] if f["client_order_id"] in cids]
    # one venue order per client order id: the window never made the service send an order twice
    assert sorted(o["client_order_id"] for o in venue_orders) == sorted(cids)
    for vo in venue_orders:
        state, filled = journaled[vo["client_order_id"]]
        # the journal ends where the venue ended (the answer said at least acknowledged), not in limbo
        assert state == {"closed": "filled", "canceled": "cancelled", "rejected": "rejected"}[vo["status"]], (
            vo
        )
        assert Decimal(filled) == Decimal(vo["filled"])
    rows = again.journal.query(
        f"SELECT venue, fill_id FROM fills WHERE client_order_id IN ({','.join('?' * len(cids))})",
        tuple(cids),
    )
    assert sorted(rows) == sorted((f["venue"], f["fill_id"]) for f in venue_fills)  # each fill once
    for cid in cids:  # the journal's trail: each state follows the one before it, ending at the venue's
        chain = _events_chain(again, cid)
        assert all(prev[1] == nxt[0] for prev, nxt in zip(chain[1:], chain[2:], strict=False)), chain
        assert chain[-1][1] == journaled[cid][0]


async def test_the_ack_is_durable_without_waiting_and_states_land_in_order(paper_env) -> None:
    path, _, _ = paper_env
    service = ExecutionService(load_config(path), get_settings())
    await service.start()
    try:
        answers = [
            await service.handle_signal(signal(i, forecast=f)) for i, f in enumerate((0.004, -0.004, 0.004))
        ]
        cids = [o["client_order_id"] for a in answers for o in a["orders"]]
        assert cids and all(a["outcome"] == "orders" for a in answers)
        await service.journal.settled()  # everything queued so far (the acks behind the answers) is committed
        journaled = _journal_orders(service, cids)
        for a in answers:
            for o in a["orders"]:
                assert journaled[o["client_order_id"]][0] == o["state"] != OrderState.SUBMITTED.value
        for cid in cids:
            chain = _events_chain(service, cid)
            assert chain[0] == ("new", "new") and chain[1] == ("new", "submitted")
            assert all(prev[1] == nxt[0] for prev, nxt in zip(chain[1:], chain[2:], strict=False)), chain
    finally:
        await service.stop()
