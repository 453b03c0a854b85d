"""Daily statements: figures from a hand-made journal, the PDF's text, the CLI, and a real service's fills."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from execution import orders as sm
from execution.audit import AuditedJournal
from execution.best_quote import QUOTE_SQL
from execution.journal_reader import JournalReader
from execution.slicing import ParentOrder
from execution.statements.files import write_statements
from execution.statements.ledger import DEFAULT_ACCOUNT, UnknownAccount, build_statement
from execution.statements.pdf import render_pdf
from execution.venues.base import Side, TimeInForce, VenueFill
from kimera.app.cli import main
from tests.execution.conftest import signal
from tests.execution.test_provenance_and_costs import settle
from tests.support.servers import postgres  # noqa: F401  (fixture)

POOL = "uniswap_v2_wbtc_usdc"  # the repository config's names, so the CLI classifies them as the tests do
KINDS = {"alpha": "cex", "bravo": "cex", POOL: "amm"}
DAY = date(2026, 4, 2)


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _order(cid: str, parent: str, venue: str, side: Side, amount: str):
    order, _ = sm.create(client_order_id=cid, parent_id=parent, intent_key=f"{parent}:0:{venue}", venue=venue,
                         symbol="BTC/USDT", asset="BTC", side=side, amount=Decimal(amount), limit_price=Decimal(1000),
                         time_in_force=TimeInForce.IOC, model_tag="lstm:abc")  # fmt: skip
    return order


def _parent(pid: str, side: str, reference: str) -> ParentOrder:
    return ParentOrder(parent_id=pid, signal_id=None, asset="BTC", side=side, quantity=Decimal(1), target=None,
                       reference_price=Decimal(reference), created_at=0.0, slice_mode=None,
                       slices=[Decimal(1)], next_slice=1, next_slice_at=None, status="done")  # fmt: skip


def _fill(venue, fid, cid, side, price, amount, fee, at) -> VenueFill:
    return VenueFill(
        venue, fid, cid, "BTC/USDT", side, Decimal(price), Decimal(amount), Decimal(fee), _at(at)
    )


@pytest.fixture
def day_journal(kimera_home) -> str:
    return write_day_journal(f"sqlite:///{kimera_home.journal_path}")


def write_day_journal(url: str) -> str:
    """April 1st: buy 2 BTC on alpha at 100 (arrival 100, fee 0.2).
    April 2nd: buy 1 in the pool at 112 (arrival 110, best venue bravo at 110.5, gas 0.5),
    sell 2 on alpha at 119 (arrival 120, best venue bravo at 119.5, fee 0.238).
    April 3rd: sell 1 on alpha (not on the 2nd's statement)."""
    journal = AuditedJournal(url)
    journal.open()
    parents = [_parent("P1", "buy", "100"), _parent("P2", "buy", "110"), _parent("P3", "sell", "120"),
               _parent("P4", "sell", "130")]  # fmt: skip
    orders = [_order("A", "P1", "alpha", Side.BUY, "2"), _order("B", "P2", POOL, Side.BUY, "1"),
              _order("C", "P3", "alpha", Side.SELL, "2"), _order("D", "P4", "alpha", Side.SELL, "1")]  # fmt: skip
    statements = [journal.parent(p) for p in parents]
    statements += [
        (QUOTE_SQL, ("P2", "buy", "bravo", "110.5", 0.0)),
        (QUOTE_SQL, ("P3", "sell", "bravo", "119.5", 0.0)),
    ]
    for o in orders:
        statements += journal.order_change(o, [])
    statements += [
        journal.fill(_fill("alpha", "1", "A", Side.BUY, "100", "2", "0.2", "2026-04-01T10:00:00")),
        journal.fill(_fill(POOL, "2", "B", Side.BUY, "112", "1", "0.5", "2026-04-02T09:00:00")),
        journal.fill(_fill("alpha", "3", "C", Side.SELL, "119", "2", "0.238", "2026-04-02T15:30:00")),
        journal.fill(_fill("alpha", "4", "D", Side.SELL, "131", "1", "0.131", "2026-04-03T01:00:00")),
    ]
    asyncio.run(journal.write(statements))
    journal.close()
    return url


def test_the_days_positions_pnl_fees_gas_and_slippage_are_the_journals(day_journal):
    reader = JournalReader(day_journal)
    st = build_statement(reader, DEFAULT_ACCOUNT, DAY, KINDS)
    reader.close()
    assert [f.client_order_id for f in st.fills] == [
        "B",
        "C",
    ]  # the 1st's and the 3rd's fills are not the 2nd's
    (btc,) = st.positions
    # opening 2 at 100; buy 1 at 112 -> 3 at avg 104; sell 2 at 119 -> realised 2 x 15 = 30, 1 left at 104
    assert (btc.opening, btc.closing, btc.average_price) == (Decimal(2), Decimal(1), Decimal(104))
    assert btc.realised == st.realised == Decimal(30)
    assert btc.mark == Decimal(120) and btc.unrealised == Decimal(
        16
    )  # marked at the 15:30 decision's arrival
    assert st.unrealised_open == Decimal(0)  # the 1st's mark is its own fill's arrival, 100
    assert (st.fees, st.gas) == (Decimal("0.238"), Decimal("0.5"))
    assert st.day_pnl == Decimal(30) + Decimal(16) - Decimal("0.738")
    be = st.best_execution
    # vs arrival: buy 1 x (112 - 110) = 2; sell 2 x (120 - 119) = 2; of 110 + 240 arrival notional
    assert be.vs_arrival == Decimal(4) and be.vs_arrival_bps == pytest.approx(4 / 350 * 1e4)
    # vs the best venue: 1 x (112 - 110.5) + 2 x (119.5 - 119) = 2.5 on 110.5 + 239
    assert be.vs_best == Decimal("2.5") and be.compared_to_best == 2
    assert be.vs_best_bps == pytest.approx(2.5 / 349.5 * 1e4)


def test_a_postgresql_journal_gives_the_same_statement(postgres, kimera_home):  # noqa: F811
    sqlite_reader = JournalReader(write_day_journal(f"sqlite:///{kimera_home.journal_path}"))
    pg_reader = JournalReader(write_day_journal(postgres.url(postgres.create_database("journal"))))
    try:
        on_sqlite, on_pg = (
            build_statement(r, DEFAULT_ACCOUNT, DAY, KINDS) for r in (sqlite_reader, pg_reader)
        )
    finally:
        sqlite_reader.close()
        pg_reader.close()
    assert on_pg.day_pnl == on_sqlite.day_pnl == Decimal("45.262")
    assert on_pg.best_execution.vs_best == Decimal("2.5") and on_pg.positions == on_sqlite.positions
    assert postgres.role not in on_pg.journal  # where it was read, without the user


def test_the_pdf_renders_and_its_text_shows_positions_pnl_costs_and_every_fill(day_journal):
    reader = JournalReader(day_journal)
    st = build_statement(reader, DEFAULT_ACCOUNT, DAY, KINDS)
    reader.close()
    data = render_pdf(st)
    assert data[:5] == b"%PDF-"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Daily statement - account default - 2026-04-02" in text
    for figure in ("30.00", "16.00", "0.2380", "0.5000", "45.26", "112.0000", "119.0000", "bravo 110.5000",
                   "Slippage vs arrival", "4.00 / 114.29", "2.50 / 71.53"):  # fmt: skip
        assert figure in text, figure
    assert POOL in text and "alpha" in text and " B" in text.replace("\n", " ")


def test_kimera_statement_writes_html_and_pdf_and_refuses_an_unknown_account(day_journal, kimera_home):
    out = CliRunner().invoke(main, ["statement", "--day", "2026-04-02", "--json"])
    assert out.exit_code == 0, out.output
    (done,) = json.loads(out.output)
    assert (
        done["account"] == "default" and done["fills"] == 2 and Decimal(done["day_pnl"]) == Decimal("45.262")
    )
    html = (kimera_home.home_dir / "statements" / "default" / "2026-04-02.html").read_text()
    assert "<td>bravo 110.5000</td>" in html and html.count("<td>alpha</td>") == 1
    assert (
        "<td>Gas (pool fills)</td><td>0.50</td>" in html
        and "<td>Fees (exchange commissions)</td><td>0.24</td>" in html
    )
    assert (kimera_home.home_dir / "statements" / "default" / "2026-04-02.pdf").read_bytes()[:5] == b"%PDF-"
    bad = CliRunner().invoke(main, ["statement", "--day", "2026-04-02", "--account", "whale"])
    assert bad.exit_code == 2 and "account 'whale' is not in the journal; it holds: default" in bad.output
    assert not (kimera_home.home_dir / "statements" / "whale").exists()
    wrong_day = CliRunner().invoke(main, ["statement", "--day", "02/04/2026"])
    assert wrong_day.exit_code == 2 and "%Y-%m-%d" in wrong_day.output


def test_with_the_accounts_layer_each_account_gets_its_own_statement(day_journal, kimera_home):
    import sqlite3

    from execution.accounts.journal import ORDER_SQL, schema

    def claim(con, parent_id: str, account: str) -> None:  # the row the accounts layer journals
        con.execute(ORDER_SQL, (parent_id, account, account, None, f"s-{parent_id}", None, "BTC",
                                "BTC/USDT", "buy", "1", "100", 100.0, 0.0))  # fmt: skip

    with sqlite3.connect(kimera_home.journal_path) as con:
        for ddl, _ in schema("sqlite"):
            con.execute(ddl)
        claim(con, "P1", "leader")
        claim(con, "P2", "follower")
        claim(con, "P3", "leader")
    done = write_statements(day_journal, DAY, None, KINDS, kimera_home.home_dir / "statements")
    # P4 (the 3rd's sell) is no account's: the default account holds it, with no fill on the 2nd
    assert sorted((d["account"], d["fills"]) for d in done) == [
        ("default", 0),
        ("follower", 1),
        ("leader", 1),
    ]
    reader = JournalReader(day_journal)
    with pytest.raises(UnknownAccount, match="it holds: default, follower, leader"):
        build_statement(reader, "whale", DAY, KINDS)
    reader.close()


async def test_a_real_services_fills_carry_the_best_venue_at_decision_into_the_statement(
    service, kimera_home
):
    await service.handle_signal(signal(1))
    await settle(service)
    reader = JournalReader(f"sqlite:///{kimera_home.journal_path}")
    (quote,) = reader.rows("SELECT side, venue, price FROM decision_quotes")
    (reference,) = reader.rows("SELECT reference_price FROM parents")[0]
    assert quote[0] == "buy" and quote[1] in {"alpha", "bravo", "charlie", "uniswap_v2_wbtc_usdc"}
    assert Decimal(quote[2]) >= Decimal(reference) * Decimal(
        "0.99"
    )  # a touch to buy is not far below the mid
    (fill_at,) = reader.rows("SELECT min(at) FROM fills")[0]
    day = datetime.fromtimestamp(fill_at, UTC).date()
    st = build_statement(reader, DEFAULT_ACCOUNT, day, KINDS)
    reader.close()
    assert st.fills and all(f.best_venue == quote[1] and f.arrival == Decimal(reference) for f in st.fills)
    assert st.positions[0].closing == sum(f.amount for f in st.fills)
    text = PdfReader(io.BytesIO(render_pdf(st))).pages[0].extract_text()
    assert st.fills[0].client_order_id in text.replace("\n", "")
