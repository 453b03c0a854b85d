"""An order traced back to its data, and the transaction-cost report per venue."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest
from click.testing import CliRunner

from execution import orders as sm
from execution.app import create_app
from execution.audit import AuditedJournal
from execution.reports.costs import cost_table, format_table
from execution.reports.plot import write_cost_report
from execution.slicing import ParentOrder
from execution.venues.base import Side, TimeInForce, VenueFill
from kimera.app.cli import main
from tests.execution.conftest import signal


async def settle(service, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not all(o.settled for o in service.oms.orders.values()):
        await service.oms.reconcile()
        await asyncio.sleep(0.2)


async def test_an_order_is_traced_to_its_signal_prediction_feature_row_and_raw_partitions(
    service, kimera_home
):
    import duckdb

    with duckdb.connect(str(kimera_home.warehouse_path)) as con:  # the prediction as the models stored it
        con.execute("CREATE SCHEMA ml")
        con.execute("CREATE TABLE ml.predictions (prediction_id TEXT, model_tag TEXT, forecast DOUBLE)")
        con.execute("INSERT INTO ml.predictions VALUES ('pred-1', 'test-model', 0.004)")
    await service.handle_signal(signal(1, feature_time="2026-04-01T00:00:00"))
    await settle(service)
    order = next(o for o in service.oms.orders.values() if o.fill_ids)
    app = create_app(service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        trace = (await c.get(f"/orders/{order.client_order_id}/trace")).json()
        assert (await c.get("/orders/NOPE/trace")).status_code == 404
    assert trace["order"]["client_order_id"] == order.client_order_id
    assert trace["signal"]["signal_id"] == "sig-1" and trace["decision"]["outcome"] == "orders"
    prov = trace["provenance"]
    assert (prov["model_tag"], prov["prediction_id"], prov["feature_time"]) == (
        "test-model",
        "pred-1",
        "2026-04-01T00:00:00",
    )
    assert prov["feature_row"] == {
        "table": "marts.features",
        "asset": "BTC",
        "bar_time": "2026-04-01T00:00:00",
    }
    # 1h bars, 48 bars of look-back: the 48 hourly partitions before the bar close
    parts = prov["raw_partitions"]
    assert (parts["first"], parts["last"], parts["count"]) == ("2026-03-30-00:00", "2026-03-31-23:00", 48)
    assert prov["prediction"] == {"available": True, "row": {"prediction_id": "pred-1", "model_tag": "test-model",
                                                             "forecast": 0.004}}  # fmt: skip
    kinds = [e["kind"] for e in trace["audit"]]
    assert {"signal", "decision", "parent", "order"} <= set(kinds) and all(
        e["intact"] for e in trace["audit"]
    )
    assert sorted(f["fill_id"] for f in trace["fills"]) == sorted(order.fill_ids)
    assert "fill" in kinds
    cli = CliRunner().invoke(
        main, ["audit", "trace", order.client_order_id, "--path", str(kimera_home.journal_path)]
    )
    assert cli.exit_code == 0 and '"raw_partitions"' in cli.output and "2026-03-31-23:00" in cli.output


def _order(cid: str, parent: str, venue: str, side: Side, amount: str, limit: str):
    order, _ = sm.create(client_order_id=cid, parent_id=parent, intent_key=f"{parent}:0:{venue}", venue=venue,
                         symbol="BTC/USDT", asset="BTC", side=side, amount=Decimal(amount), limit_price=Decimal(limit),
                         time_in_force=TimeInForce.IOC)  # fmt: skip
    return order


def _parent(pid: str, side: str, reference: str) -> ParentOrder:
    return ParentOrder(parent_id=pid, signal_id=None, asset="BTC", side=side, quantity=Decimal(1), target=None,
                       reference_price=Decimal(reference), created_at=time.time(), slice_mode=None,
                       slices=[Decimal(1)], next_slice=1, next_slice_at=None, status="done")  # fmt: skip


def _fill(venue: str, fid: str, cid: str, side: Side, price: str, amount: str, fee: str) -> VenueFill:
    return VenueFill(
        venue, fid, cid, "BTC/USDT", side, Decimal(price), Decimal(amount), Decimal(fee), time.time()
    )


@pytest.fixture
def costs_journal(kimera_home) -> str:
    """Buy at arrival 100: 1 on alpha at 100.5 (fee 0.1005), 2 in the pool at 100.2 (gas 0.5);
    sell at arrival 200: 1 on alpha at 199 (fee 0.199); one order rejected on alpha."""
    url = f"sqlite:///{kimera_home.journal_path}"
    journal = AuditedJournal(url)
    journal.open()
    a, p, s, r = (_order("A", "P1", "alpha", Side.BUY, "1", "101"), _order("B", "P1", "pool", Side.BUY, "2", "101"),
                  _order("C", "P2", "alpha", Side.SELL, "1", "198"), _order("D", "P2", "alpha", Side.SELL, "1", "198"))  # fmt: skip
    r.state = sm.OrderState.REJECTED
    statements = [journal.parent(_parent("P1", "buy", "100")), journal.parent(_parent("P2", "sell", "200"))]
    for o in (a, p, s, r):
        statements += journal.order_change(o, [])
    statements += [journal.fill(_fill("alpha", "1", "A", Side.BUY, "100.5", "1", "0.1005")),
                   journal.fill(_fill("pool", "2", "B", Side.BUY, "100.2", "2", "0.5")),
                   journal.fill(_fill("alpha", "3", "C", Side.SELL, "199", "1", "0.199"))]  # fmt: skip
    asyncio.run(journal.write(statements))
    journal.close()
    return url


def test_costs_per_venue_are_slippage_against_arrival_fees_and_gas(costs_journal):
    rows, fills = cost_table(costs_journal, {"alpha": "cex", "pool": "amm"})
    alpha, pool, total = rows
    assert (alpha.venue, alpha.orders, alpha.rejected, alpha.fills) == ("alpha", 3, 1, 2)
    assert alpha.notional == Decimal(300) and alpha.slippage == Decimal(
        "1.5"
    )  # 0.5 on the buy, 1 on the sell
    assert alpha.fees == Decimal("0.2995") and alpha.gas == 0
    assert alpha.bps(alpha.slippage) == pytest.approx(50.0)
    assert pool.slippage == Decimal("0.4") and pool.gas == Decimal("0.5") and pool.fees == 0
    assert pool.row()["total_bps"] == pytest.approx(45.0)  # 20 bps of slippage, 25 of gas, on 200
    assert total.total == alpha.total + pool.total and total.fills == 3
    assert sorted(f.slippage_bps for f in fills) == pytest.approx([20.0, 50.0, 50.0])
    text = format_table(rows)
    assert text.splitlines()[0].split()[:3] == ["venue", "kind", "orders"] and "all" in text


def test_the_cost_report_is_written_as_csv_and_png_under_the_report_folder(costs_journal, kimera_home):
    table, csv_path, png = write_cost_report(
        costs_journal, {"alpha": "cex", "pool": "amm"}, kimera_home.report_dir
    )
    assert csv_path.parent == png.parent == kimera_home.report_dir
    assert csv_path.read_text().splitlines()[1].startswith("alpha,cex,3,1,2")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    per_fill = (kimera_home.report_dir / "execution_fills.csv").read_text().splitlines()
    assert len(per_fill) == 4 and per_fill[2].startswith("pool,amm,BTC/USDT,buy,2,100.2,100,0.4")
    out = CliRunner().invoke(main, ["costs"])
    assert out.exit_code == 0 and "execution_costs.png" in out.output and "pool" in out.output
