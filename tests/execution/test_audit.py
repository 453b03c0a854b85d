"""The audit trail: every signal, decision, refusal, order and fill is chained; tampering is found."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from execution.audit import GENESIS, AuditedJournal, canonical, entries, entry_hash, verify
from execution.orders import OrderState
from execution.venues.base import Side, VenueFill
from kimera.app.cli import main
from tests.execution.conftest import signal


def journal_at(path: Path) -> AuditedJournal:
    journal = AuditedJournal(f"sqlite:///{path}")
    journal.open()
    return journal


async def write_signals(journal: AuditedJournal, n: int) -> None:
    for i in range(n):
        sid = f"s{i}"
        await journal.write([
            journal.signal(sid, signal(i), "refused", None, "no liquidity"),
            journal.refusal("no_liquidity", "nothing within the band", "BTC", sid),
            journal.fill(VenueFill("alpha", f"f{i}", f"c{i}", "BTC/USDT", Side.BUY, Decimal("100.5"),
                                   Decimal("0.1"), Decimal("0.01"), time.time())),
        ])  # fmt: skip


@pytest.fixture
def audited(tmp_path) -> Path:
    """A journal file holding 5 units of 4 audit entries each (signal, decision, refusal, fill)."""
    path = tmp_path / "journal.sqlite"
    journal = journal_at(path)
    asyncio.run(write_signals(journal, 5))
    journal.close()
    return path


def tamper(path: Path, *sql: str) -> str:
    """Edit the file as someone with write access would: drop the guards, then change rows."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_a_clean_log_verifies_and_the_database_refuses_edits(audited):
    result = verify(f"sqlite:///{audited}")
    assert result.ok and result.entries == 20
    kinds = [e.kind for e in entries(f"sqlite:///{audited}")][:4]
    assert kinds == ["signal", "decision", "refusal", "fill"]
    conn = sqlite3.connect(audited)
    for statement in ("UPDATE audit SET record = '{}' WHERE seq = 3", "DELETE FROM audit WHERE seq = 20"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_an_edited_entry_is_named(audited):
    url = tamper(audited, """UPDATE audit SET record = replace(record, '"100.5"', '"99.5"') WHERE seq = 8""")
    result = verify(url)
    assert not result.ok and result.bad_seq == 8 and "edited" in result.problem and "fill" in result.problem


def test_a_removed_entry_is_named(audited):
    result = verify(tamper(audited, "DELETE FROM audit WHERE seq = 6"))
    assert result.bad_seq == 6 and "entry 6 missing" in result.problem and "removed" in result.problem


def test_an_inserted_entry_is_found_even_when_its_own_hash_is_right(audited):
    """The forger shifts later entries and chains the new one to its predecessor correctly: the
    entry after it no longer links."""
    url = f"sqlite:///{audited}"
    prev = next(e for e in entries(url) if e.seq == 10)
    record = canonical(
        {
            "reason": "made_up",
            "detail": "",
            "asset": "BTC",
            "signal_id": "s9",
            "parent_id": None,
            "venue": None,
        }
    )
    digest = entry_hash(11, prev.at_ms, "refusal", "s9", prev.hash, record)
    tamper(
        audited,
        "UPDATE audit SET seq = -seq WHERE seq > 10",  # two steps: seq is a primary key
        "UPDATE audit SET seq = 1 - seq WHERE seq < 0",
        f"INSERT INTO audit VALUES (11, {prev.at_ms}, 'refusal', 's9', '{record}', '{prev.hash}', '{digest}')",
    )
    result = verify(url)
    assert result.bad_seq == 12 and "inserted or removed" in result.problem


def test_a_crude_insertion_and_a_cut_off_end_are_found(audited, tmp_path):
    copy = tmp_path / "copy.sqlite"
    shutil.copy(audited, copy)
    result = verify(
        tamper(audited, f"INSERT INTO audit VALUES (21, 0, 'fill', 'x', '{{}}', '{GENESIS}', '{GENESIS}')")
    )
    assert result.bad_seq == 21 and "does not follow entry 20" in result.problem
    result = verify(tamper(copy, "DELETE FROM audit WHERE seq > 17"))
    assert result.bad_seq == 18 and "removed from the end" in result.problem


def test_a_journal_row_changed_behind_the_audits_back_is_reported(audited):
    result = verify(tamper(audited, "UPDATE fills SET price = '100.0' WHERE fill_id = 'f2'"))
    assert result.problem is None and result.mismatches == [
        "fill alpha/f2: price 100.5 -> 100.0 in the journal"
    ]


def test_kimera_audit_verify_exits_nonzero_and_names_the_first_bad_entry(audited, kimera_home):
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--path", str(audited)])
    assert ok.exit_code == 0 and "audit log OK: 20 entries" in ok.output
    tamper(audited, "UPDATE audit SET kind = 'order' WHERE seq = 13")
    bad = runner.invoke(main, ["audit", "verify", "--path", str(audited)])
    assert bad.exit_code == 1 and "BROKEN at entry 13" in bad.output


async def test_a_failed_unit_leaves_no_audit_entries_and_the_chain_continues_after_a_restart(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = journal_at(path)
    good = journal.submit([journal.signal("a", signal(1), "refused", None, "x")])
    dup = journal.submit(
        [journal.refusal("r", "d", "BTC", "a"), journal.signal("a", signal(1), "refused", None, "x")]
    )
    await asyncio.wrap_future(good)
    with pytest.raises(Exception, match="UNIQUE"):
        await asyncio.wrap_future(dup)
    await journal.write([journal.refusal("r2", "d", "BTC", "a")])
    journal.close()
    again = journal_at(path)  # restart: the head is read back
    await again.write([again.setting("kill_switch", '{"state": "HALTED", "reason": "test"}')])
    again.close()
    result = verify(f"sqlite:///{path}")
    assert result.ok, result.problem
    assert [e.kind for e in entries(f"sqlite:///{path}")] == ["signal", "decision", "refusal", "kill_switch"]


async def test_a_trading_session_audits_signals_decisions_orders_fills_and_the_kill_switch(service):
    from execution.killswitch import SwitchState

    for i in range(3):
        await service.handle_signal(signal(i, forecast=0.004 * (-1) ** i))
    # the fills first: a HALT with cancel_open could cancel IOC orders still in flight
    deadline = time.time() + 20
    while time.time() < deadline and not (
        all(o.settled for o in service.oms.orders.values())
        and any(o.fill_ids for o in service.oms.orders.values())
    ):
        await service.oms.reconcile()
        await asyncio.sleep(0.2)
    await service.set_kill_switch(SwitchState.HALTED, "audit test", cancel_open=True)
    refused = await service.handle_signal(signal(9, asset="ETH", forecast=0.01))
    assert refused["outcome"] == "refused"
    result = verify(service.journal.url)
    assert result.ok, (result.problem, result.mismatches)
    kinds = {e.kind for e in entries(service.journal.url)}
    assert {"signal", "decision", "parent", "order", "fill", "refusal", "kill_switch"} <= kinds
    filled = next(o for o in service.oms.orders.values() if o.state is OrderState.FILLED)
    about = [e.content() for e in entries(service.journal.url, ref=filled.client_order_id, kinds=("order",))]
    assert about[0]["state"] == "submitted" and about[-1]["state"] == "filled"
    assert {(a["signal_id"], a["model_tag"], a["prediction_id"]) for a in about} == {
        (filled.signal_id, "test-model", filled.prediction_id)
    }


async def test_postgresql_audit_log_is_chained_and_append_only():
    from tests.execution.test_journal import _postgres

    pytest.importorskip("psycopg")
    tmp = Path(tempfile.mkdtemp(prefix="kimera-pg-audit-"))
    os.chmod(tmp, 0o755)
    try:
        stop_cmd, url = _postgres(tmp)
    except (subprocess.CalledProcessError, OSError) as exc:  # as the journal tests: skip where none starts
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server can start here: {exc}")
    try:
        journal = AuditedJournal(url)
        journal.open()
        await write_signals(journal, 3)
        journal.close()
        assert verify(url).ok and verify(url).entries == 12
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.RaiseException):
            conn.execute("UPDATE audit SET kind = 'x' WHERE seq = 2")
    finally:
        subprocess.run(stop_cmd, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_an_order_change_is_audited_as_the_order_record_says_on_both_databases(tmp_path):
    from bench.journal import _orders
    from execution import orders as sm
    from execution.audit import AUDITED, order_record

    order = _orders(1)[0]
    events = [
        sm.transition(order, OrderState.SUBMITTED),
        None,
        sm.transition(order, OrderState.UNKNOWN, "lost"),
    ]
    for url in (
        f"sqlite:///{tmp_path / 'j.sqlite'}",
        "postgresql://nobody@127.0.0.1:1/none",
    ):  # no connection made
        (sql, (_, records)), *rest = AuditedJournal(url).order_change(order, events)
        assert sql == AUDITED and len(rest) == 2  # the order's row, then one row per event
        assert canonical(records[0][2]) == canonical(order_record(order, [e for e in events if e]))


async def test_a_bad_unit_in_a_busy_group_fails_alone_and_the_chain_stays_whole(tmp_path):
    """Groups are written in one batch; a unit that breaks a constraint sends the group back to
    one savepoint per unit: its neighbours land, it leaves no entry, the chain has no gap."""
    path = tmp_path / "journal.sqlite"
    journal = journal_at(path)
    units = [[journal.signal(f"s{i}", signal(i), "refused", None, "x")] for i in range(200)]
    units[77] = [
        journal.refusal("r", "d", "BTC", "s77"),
        journal.signal("s3", signal(3), "refused", None, "x"),
    ]
    results = await asyncio.gather(*(journal.write(u) for u in units), return_exceptions=True)
    journal.close()
    assert [i for i, r in enumerate(results) if r is not None] == [77]
    result = verify(f"sqlite:///{path}")
    assert result.ok, result.problem
    assert result.entries == 199 * 2  # a signal and its decision each; nothing of unit 77


def test_a_fill_is_audited_with_every_field_it_has():
    from dataclasses import asdict

    from execution.audit import fill_record

    fill = VenueFill(
        "alpha", "f1", "c1", "BTC/USDT", Side.SELL, Decimal("100.5"), Decimal("0.1"), Decimal("0.01"), 1.5
    )
    assert canonical(fill_record(fill)) == canonical({**asdict(fill), "side": "sell"})


def test_a_parents_audit_record_is_every_field_as_it_was_when_journaled() -> None:
    import dataclasses

    from execution.audit import parent_record
    from execution.slicing import ParentOrder

    parent = ParentOrder(
        "P1", "sig-1", "BTC", "buy", Decimal("0.30"), Decimal("1.5"), Decimal("65000.1"), 1.0, "twap",
        [Decimal("0.1"), Decimal("0.1"), Decimal("0.1")], 1, 2.0, "working", "m", "p-1",
    )  # fmt: skip
    record = parent_record(parent)
    assert canonical(record) == canonical(dataclasses.asdict(parent))  # the chain's text is unchanged
    parent.slices.append(Decimal("0.2"))  # a later change (before the writer hashes it) cannot reach it
    parent.next_slice = 2
    assert record["slices"] == [Decimal("0.1")] * 3 and record["next_slice"] == 1
