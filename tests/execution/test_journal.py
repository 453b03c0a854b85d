"""The journal: durable group commits, a bad unit fails alone, one live order per intent, restart reads
back what was written; the same on PostgreSQL when a server can be started here."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest

from execution import orders as sm
from execution.journal import Journal, JournalError
from execution.orders import OrderState
from execution.venues.base import Side, TimeInForce, VenueFill
from tests.support.net import free_port


def _order(i: int, intent: str | None = None) -> sm.ChildOrder:
    order, _ = sm.create(
        client_order_id=sm.new_client_order_id(), parent_id="P1", intent_key=intent or f"P1:0:v{i}", venue="alpha",
        symbol="BTC/USDT", asset="BTC", side=Side.BUY, amount=Decimal("0.12345"), limit_price=Decimal("60000.01"),
        time_in_force=TimeInForce.IOC, signal_id=f"s{i}", model_tag="m", prediction_id=f"p{i}",
    )  # fmt: skip
    return order


async def _exercise(journal: Journal) -> None:
    journal.open()
    orders = [_order(i) for i in range(300)]
    # many writers at once: one fsync per group, every caller durable when its await returns
    await asyncio.gather(
        *(journal.write(journal.order_change(o, [sm.transition(o, OrderState.SUBMITTED)])) for o in orders)
    )
    assert journal.units == 300 and journal.commits < 300
    # a bad unit (second live order for an intent) fails alone; its neighbours in the group land
    twin = _order(999, intent=orders[0].intent_key)
    good = _order(1000)
    results = await asyncio.gather(
        journal.write([journal.upsert_order(twin)]),
        journal.write([journal.upsert_order(good)]),
        return_exceptions=True,
    )
    assert isinstance(results[0], JournalError) and results[1] is None
    # once the first order is done, its intent may have a new live order
    o = orders[0]
    await journal.write(journal.order_change(o, [sm.transition(o, OrderState.CANCELLED, "test")]))
    await journal.write([journal.upsert_order(twin)])
    fill = VenueFill("alpha", "f1", orders[1].client_order_id, "BTC/USDT", Side.BUY, Decimal("60000.5"), Decimal("0.1"), Decimal("6.00005"), time.time())  # fmt: skip
    await journal.write([journal.fill(fill), journal.fill(fill)])  # the duplicate is ignored
    journal.close()
    again = Journal(journal.url)
    state = again.open()
    again.close()
    assert len(state.orders) == 302
    assert state.orders[o.client_order_id].state is OrderState.CANCELLED
    assert state.orders[orders[1].client_order_id].limit_price == Decimal("60000.01")
    assert state.orders[orders[1].client_order_id].fill_ids == {"f1"}
    assert state.fills[0].fee == Decimal("6.00005")


async def test_sqlite_journal_group_commits_and_reads_back(tmp_path):
    await _exercise(Journal(f"sqlite:///{tmp_path / 'journal.sqlite'}"))


def _postgres(tmp: Path) -> tuple[subprocess.Popen | None, str]:
    initdb = shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb"
    pg_ctl = shutil.which("pg_ctl") or "/usr/lib/postgresql/15/bin/pg_ctl"
    if not (Path(initdb).exists() and Path(pg_ctl).exists()):
        pytest.skip("no PostgreSQL server binaries here")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(tmp, "postgres")
    data, port = tmp / "data", free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "kimera"], check=True, capture_output=True
    )
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1",
                    "-l", str(tmp / "log"), "-w", "start"], check=True, capture_output=True)  # fmt: skip
    return [
        *as_user,
        pg_ctl,
        "-D",
        str(data),
        "-m",
        "immediate",
        "stop",
    ], f"postgresql://kimera@127.0.0.1:{port}/postgres"


async def test_postgresql_journal_behaves_the_same():
    pytest.importorskip("psycopg")
    tmp = Path(tempfile.mkdtemp(prefix="kimera-pg-"))
    os.chmod(tmp, 0o755)
    try:
        stop_cmd, url = _postgres(tmp)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"a PostgreSQL server cannot be started here: {exc}")
    try:
        await _exercise(Journal(url))
    finally:
        subprocess.run(stop_cmd, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
