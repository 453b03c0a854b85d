"""The durable journal: every signal, decision, refusal, order transition and fill, written before
and after each venue call.

One writer thread owns the database connection and commits in groups: callers queue a *unit* (a
list of statements that must land together) and await it; the thread takes every unit waiting,
runs each inside its own savepoint (a bad unit fails alone), commits once (one fsync for the
group) and then wakes the callers. A caller's await returns only after its unit is durable.

SQLite in WAL mode (``synchronous=FULL`` by default) under ``KIMERA_HOME/execution/``, or
PostgreSQL by URL (``postgresql://...``). The index ``one_live_order_per_intent`` makes the
database itself refuse a second live order for one intent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from execution.orders import LIVE, ChildOrder, OrderEvent, OrderState, restore
from execution.slicing import ParentOrder
from execution.venues.base import Side, TimeInForce, VenueFill

Statement = tuple[str, tuple[Any, ...]]
log = logging.getLogger("kimera.execution.journal")

_LIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(LIVE))

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS signals (
        signal_id TEXT PRIMARY KEY, body TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL,
        outcome TEXT NOT NULL, parent_id TEXT, detail TEXT)""",
    """CREATE TABLE IF NOT EXISTS parents (
        parent_id TEXT PRIMARY KEY, signal_id TEXT, asset TEXT NOT NULL, side TEXT NOT NULL,
        quantity {money} NOT NULL, target {money}, reference_price {money}, created_at DOUBLE PRECISION NOT NULL,
        slice_mode TEXT, slices TEXT NOT NULL, next_slice INTEGER NOT NULL, next_slice_at DOUBLE PRECISION,
        status TEXT NOT NULL, model_tag TEXT, prediction_id TEXT)""",
    """CREATE TABLE IF NOT EXISTS orders (
        client_order_id TEXT PRIMARY KEY, parent_id TEXT NOT NULL, intent_key TEXT NOT NULL,
        venue TEXT NOT NULL, symbol TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL,
        amount {money} NOT NULL, limit_price {money}, time_in_force TEXT NOT NULL, state TEXT NOT NULL,
        filled {money} NOT NULL, cost {money} NOT NULL, fees {money} NOT NULL, venue_filled {money} NOT NULL,
        venue_order_id TEXT, attempts INTEGER NOT NULL, reason TEXT, signal_id TEXT, model_tag TEXT,
        prediction_id TEXT, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        last_sent_at DOUBLE PRECISION NOT NULL)""",
    f"""CREATE UNIQUE INDEX IF NOT EXISTS one_live_order_per_intent ON orders (intent_key)
        WHERE state IN ({_LIVE_SQL})""",
    "CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state)",
    """CREATE TABLE IF NOT EXISTS order_events (
        seq {serial}, client_order_id TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL, reason TEXT, filled {money} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events (client_order_id)",
    """CREATE TABLE IF NOT EXISTS fills (
        venue TEXT NOT NULL, fill_id TEXT NOT NULL, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, price {money} NOT NULL, amount {money} NOT NULL, fee {money} NOT NULL,
        at DOUBLE PRECISION NOT NULL, recorded_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (venue, fill_id))""",
    """CREATE TABLE IF NOT EXISTS refusals (
        seq {serial}, at DOUBLE PRECISION NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
        asset TEXT, signal_id TEXT, parent_id TEXT, venue TEXT)""",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # the best venue's touch at decision time, for best-execution figures (execution/best_quote.py)
    """CREATE TABLE IF NOT EXISTS decision_quotes (
        parent_id TEXT PRIMARY KEY, side TEXT NOT NULL, venue TEXT NOT NULL, price {money} NOT NULL,
        at DOUBLE PRECISION NOT NULL)""",
]


# The journal's own statements: one per table, so a group may write each table's rows in one batch.
ORDER_SQL = """INSERT INTO orders (client_order_id, parent_id, intent_key, venue, symbol, asset, side, amount,
    limit_price, time_in_force, state, filled, cost, fees, venue_filled, venue_order_id, attempts,
    reason, signal_id, model_tag, prediction_id, created_at, updated_at, last_sent_at)
   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
   ON CONFLICT (client_order_id) DO UPDATE SET state=excluded.state, filled=excluded.filled,
    cost=excluded.cost, fees=excluded.fees, venue_filled=excluded.venue_filled,
    venue_order_id=excluded.venue_order_id, attempts=excluded.attempts, reason=excluded.reason,
    updated_at=excluded.updated_at, last_sent_at=excluded.last_sent_at"""
EVENT_SQL = "INSERT INTO order_events (client_order_id, from_state, to_state, at, reason, filled) VALUES (?,?,?,?,?,?)"
FILL_SQL = """INSERT INTO fills (venue, fill_id, client_order_id, symbol, side, price, amount, fee, at, recorded_at)
   VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (venue, fill_id) DO NOTHING"""
SIGNAL_SQL = (
    "INSERT INTO signals (signal_id, body, received_at, outcome, parent_id, detail) VALUES (?,?,?,?,?,?)"
)
PARENT_SQL = """INSERT INTO parents (parent_id, signal_id, asset, side, quantity, target, reference_price, created_at,
    slice_mode, slices, next_slice, next_slice_at, status, model_tag, prediction_id)
   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
   ON CONFLICT (parent_id) DO UPDATE SET next_slice=excluded.next_slice,
    next_slice_at=excluded.next_slice_at, status=excluded.status"""
REFUSAL_SQL = (
    "INSERT INTO refusals (at, reason, detail, asset, signal_id, parent_id, venue) VALUES (?,?,?,?,?,?,?)"
)
SETTING_SQL = (
    "INSERT INTO settings (key, value) VALUES (?,?) ON CONFLICT (key) DO UPDATE SET value=excluded.value"
)


def _money(value: Decimal | None, dialect: str) -> Any:
    if value is None:
        return None
    return str(value) if dialect == "sqlite" else value


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


class JournalError(RuntimeError):
    pass


def _settle(future: concurrent.futures.Future, error: BaseException | None) -> None:
    """Resolve a unit's future; a waiter that gave up (cancelled) changes nothing: the unit is committed."""
    if future.cancelled():
        return
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        future.set_exception(error) if error is not None else future.set_result(None)


@dataclass
class JournalState:
    """What the journal holds, as loaded at start-up."""

    orders: dict[str, ChildOrder] = field(default_factory=dict)
    fills: list[VenueFill] = field(default_factory=list)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    parents: dict[str, ParentOrder] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    refusals_by_reason: dict[str, int] = field(default_factory=dict)


class _Unit:
    """Statements that land together, and who waits for them: an asyncio future on its loop (woken
    with the rest of its group in one call), or a thread-safe future for synchronous callers."""

    __slots__ = ("statements", "future", "loop")

    def __init__(self, statements: list[Statement], loop: asyncio.AbstractEventLoop | None = None):
        self.statements = statements
        self.loop = loop
        self.future: asyncio.Future[None] | concurrent.futures.Future[None] = (
            loop.create_future() if loop is not None else concurrent.futures.Future()
        )


def _log_behind_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.error("a write-behind journal unit failed (restart reconciliation recovers it): %s", error)


def _wake(waiters: list[tuple[asyncio.Future, BaseException | None]]) -> None:
    """On the waiters' loop: resolve every unit of a group (a waiter that gave up is left alone)."""
    for future, error in waiters:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(None)


class Journal:
    """Group-committing journal on SQLite (default) or PostgreSQL."""

    # statements a group writes table by table in one batch (see _execute_group)
    batched = frozenset({ORDER_SQL, EVENT_SQL, FILL_SQL, SIGNAL_SQL, PARENT_SQL, REFUSAL_SQL, SETTING_SQL})

    def __init__(self, url: str | Path, synchronous: str = "full", max_group: int = 4096):
        self.url = str(url)
        self.dialect = "postgresql" if self.url.startswith(("postgresql://", "postgres://")) else "sqlite"
        self.synchronous = synchronous
        # money columns: text exactly as the Decimal prints on SQLite, NUMERIC (the Decimal) on PostgreSQL
        self._money = str if self.dialect == "sqlite" else Decimal
        self.max_group = max_group
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = concurrent.futures.Future()
        self.commits = 0
        self.units = 0

    # --- connection ------------------------------------------------------------------------------
    def _connect(self):
        if self.dialect == "sqlite":
            path = Path(self.url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            conn.execute("PRAGMA busy_timeout=5000")
            return conn
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def _ddl(self) -> list[str]:
        money = "TEXT" if self.dialect == "sqlite" else "NUMERIC"
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if self.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
        return [s.replace("{money}", money).replace("{serial}", serial) for s in _SCHEMA]

    def open(self) -> JournalState:
        """Create the schema, start the writer thread and return what the journal holds."""
        conn = self._connect()
        cur = conn.cursor()
        for ddl in self._ddl():
            cur.execute(ddl)
        state = self._load(cur)
        self._thread = threading.Thread(target=self._run, args=(conn,), name="journal-writer", daemon=True)
        self._thread.start()
        return state

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    # --- writing ---------------------------------------------------------------------------------
    def submit(self, statements: list[Statement]) -> concurrent.futures.Future[None]:
        """Queue one unit; the future resolves once it is committed (or fails with the unit's error)."""
        if self._thread is None:
            raise JournalError("journal is not open")
        unit = _Unit(statements)
        self._queue.put(unit)
        return unit.future

    async def write(self, statements: list[Statement]) -> None:
        """Write one unit durably (all its statements, or none of them)."""
        if self._thread is None:
            raise JournalError("journal is not open")
        unit = _Unit(statements, asyncio.get_running_loop())
        self._queue.put(unit)
        await unit.future

    def write_behind(self, statements: list[Statement]) -> asyncio.Future[None]:
        """Queue one unit for the writer's next group commit without waiting for it.

        The unit lands in queue order: every unit queued after it (by this or any caller) commits in
        the same group or a later one, never before it, so a later state of an order is never
        journaled ahead of an earlier one. The returned future resolves once it is durable; a failure
        is logged here (nobody need await it).
        """
        if self._thread is None:
            raise JournalError("journal is not open")
        unit = _Unit(statements, asyncio.get_running_loop())
        self._queue.put(unit)
        unit.future.add_done_callback(_log_behind_failure)
        return unit.future

    async def settled(self) -> None:
        """Return once everything queued before this call is committed (write-behind units included)."""
        await self.write([])

    def _run(self, conn) -> None:
        cur = conn.cursor()
        while True:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            stop = False
            while len(group) < self.max_group:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    stop = True
                    break
                group.append(unit)
            try:
                errors = self._commit_group(cur, group)
            except BaseException as exc:  # the commit itself failed: nobody's unit is durable
                self._settle(
                    group, {i: JournalError(f"journal commit failed: {exc}") for i in range(len(group))}
                )
                continue
            self.commits += 1
            self.units += len(group)
            self._settle(group, {i: JournalError(str(e)) for i, e in errors.items()})
            if stop:
                break
        conn.close()

    def _commit_group(self, cur, group: list[_Unit]) -> dict[int, BaseException]:
        """Commit ``group`` in one transaction; the errors of units that failed alone, by position.

        First as one batch (each table's rows in one ``executemany``); if any statement fails, the
        transaction is rolled back and the group is written again with a savepoint per unit, so a
        bad unit fails alone and its neighbours land.
        """
        try:
            cur.execute("BEGIN")
            self._execute_group(cur, group)
            self._before_commit(cur)
            cur.execute("COMMIT")
        except Exception:
            with contextlib.suppress(Exception):
                cur.execute("ROLLBACK")
            self._group_done(committed=False)
        else:
            self._group_done(committed=True)
            return {}
        errors: dict[int, BaseException] = {}
        try:
            cur.execute("BEGIN")
            for i, unit in enumerate(group):
                cur.execute("SAVEPOINT unit")
                try:
                    self._execute_unit(cur, unit.statements)
                except Exception as exc:  # a bad unit fails alone
                    cur.execute("ROLLBACK TO SAVEPOINT unit")
                    errors[i] = exc
                cur.execute("RELEASE SAVEPOINT unit")
            self._before_commit(cur)
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                cur.execute("ROLLBACK")
            self._group_done(committed=False)
            raise
        self._group_done(committed=True)
        return errors

    @staticmethod
    def _settle(group: list[_Unit], errors: dict[int, BaseException]) -> None:
        """Wake every unit's waiter: one call per event loop, not one per unit."""
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for i, unit in enumerate(group):
            if unit.loop is None:
                _settle(unit.future, errors.get(i))
            else:
                by_loop.setdefault(unit.loop, []).append((unit.future, errors.get(i)))
        for loop, waiters in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_wake, waiters)

    def _execute_group(self, cur, group: list[_Unit]) -> None:
        """Every unit's statements, each table's rows in one ``executemany``, in order per table.

        Only the journal's own statements are batched (each table has exactly one of them, so
        the order of its rows is kept); any other statement runs in place, after what came before.
        """
        batches: dict[str, list] = {}
        batched = self.batched
        for unit in group:
            for sql, params in self._expand(unit.statements):
                if sql in batched:
                    rows = batches.get(sql)
                    if rows is None:
                        batches[sql] = [params]
                    else:
                        rows.append(params)
                else:
                    self._flush(cur, batches)
                    cur.execute(self._sql(sql), params)
        self._flush(cur, batches)

    def _flush(self, cur, batches: dict[str, list]) -> None:
        for sql, rows in batches.items():
            if len(rows) == 1:
                cur.execute(self._sql(sql), rows[0])
            else:
                cur.executemany(self._sql(sql), rows)
        batches.clear()

    def _expand(self, statements: list[Statement]) -> Iterable[Statement]:
        """Hook: the plain statements a unit stands for (the audit chain adds its entries)."""
        return statements

    def _execute_unit(self, cur, statements: list[Statement]) -> None:
        """Run one unit's statements (inside its savepoint)."""
        for sql, params in self._expand(statements):
            cur.execute(self._sql(sql), params)

    def _before_commit(self, cur) -> None:
        """Hook: last statements of a group's transaction (the audit chain records its head)."""

    def _group_done(self, committed: bool) -> None:
        """Hook: called once a group was committed, or rolled back as a whole."""

    # --- statements ------------------------------------------------------------------------------
    def upsert_order(self, o: ChildOrder) -> Statement:
        money = self._money  # enums by ._value_: the .value property is slow on the hot path
        limit = o.limit_price
        return (
            ORDER_SQL,
            (
                o.client_order_id, o.parent_id, o.intent_key, o.venue, o.symbol, o.asset, o.side._value_,
                money(o.amount), None if limit is None else money(limit), o.time_in_force._value_,
                o.state._value_, money(o.filled), money(o.cost), money(o.fees), money(o.venue_filled),
                o.venue_order_id, o.attempts, o.reason, o.signal_id, o.model_tag, o.prediction_id,
                o.created_at, o.updated_at, o.last_sent_at,
            ),
        )  # fmt: skip

    def event(self, e: OrderEvent) -> Statement:
        return EVENT_SQL, (
            e.client_order_id, e.from_state._value_, e.to_state._value_, e.at, e.reason, self._money(e.filled),
        )  # fmt: skip

    def order_change(self, order: ChildOrder, events: Iterable[OrderEvent | None]) -> list[Statement]:
        """The statements for an order's new state and the events that led to it."""
        return [self.upsert_order(order), *(self.event(e) for e in events if e is not None)]

    def fill(self, f: VenueFill) -> Statement:
        d = self.dialect
        return (
            FILL_SQL,
            (
                f.venue, f.fill_id, f.client_order_id, f.symbol, f.side.value, _money(f.price, d),
                _money(f.amount, d), _money(f.fee, d), f.timestamp, time.time(),
            ),
        )  # fmt: skip

    def signal(
        self, signal_id: str, body: dict[str, Any], outcome: str, parent_id: str | None, detail: str
    ) -> Statement:
        return (
            SIGNAL_SQL,
            (
                signal_id,
                json.dumps(body, default=str, sort_keys=True),
                time.time(),
                outcome,
                parent_id,
                detail,
            ),
        )

    def parent(self, p: ParentOrder) -> Statement:
        d = self.dialect
        return (
            PARENT_SQL,
            (
                p.parent_id, p.signal_id, p.asset, p.side, _money(p.quantity, d),
                _money(p.target, d), _money(p.reference_price, d), p.created_at,
                p.slice_mode, json.dumps([str(q) for q in p.slices]), p.next_slice,
                p.next_slice_at, p.status, p.model_tag, p.prediction_id,
            ),
        )  # fmt: skip

    def refusal(self, reason: str, detail: str, asset: str | None, signal_id: str | None, parent_id: str | None = None, venue: str | None = None) -> Statement:  # fmt: skip
        return REFUSAL_SQL, (time.time(), reason, detail, asset, signal_id, parent_id, venue)

    def setting(self, key: str, value: str) -> Statement:
        return SETTING_SQL, (key, value)

    # --- reading ---------------------------------------------------------------------------------
    def _load(self, cur) -> JournalState:
        state = JournalState()
        cur.execute(
            """SELECT client_order_id, parent_id, intent_key, venue, symbol, asset, side, amount, limit_price,
                time_in_force, state, filled, cost, fees, venue_filled, venue_order_id, attempts, reason,
                signal_id, model_tag, prediction_id, created_at, updated_at, last_sent_at FROM orders"""
        )
        for r in cur.fetchall():
            o = restore(
                OrderState(r[10]),
                client_order_id=r[0], parent_id=r[1], intent_key=r[2], venue=r[3], symbol=r[4], asset=r[5],
                side=Side(r[6]), amount=_dec(r[7]), limit_price=None if r[8] is None else _dec(r[8]),
                time_in_force=TimeInForce(r[9]), filled=_dec(r[11]), cost=_dec(r[12]), fees=_dec(r[13]),
                venue_filled=_dec(r[14]), venue_order_id=r[15], attempts=r[16], reason=r[17], signal_id=r[18],
                model_tag=r[19], prediction_id=r[20], created_at=r[21], updated_at=r[22], last_sent_at=r[23],
            )  # fmt: skip
            state.orders[o.client_order_id] = o
        cur.execute("SELECT venue, fill_id, client_order_id, symbol, side, price, amount, fee, at FROM fills")
        for r in cur.fetchall():
            f = VenueFill(r[0], r[1], r[2], r[3], Side(r[4]), _dec(r[5]), _dec(r[6]), _dec(r[7]), r[8])
            state.fills.append(f)
            if f.client_order_id in state.orders:
                state.orders[f.client_order_id].fill_ids.add(f.fill_id)
        cur.execute("SELECT signal_id, outcome, parent_id, detail, body FROM signals")
        for r in cur.fetchall():
            state.signals[r[0]] = {"outcome": r[1], "parent_id": r[2], "detail": r[3], "body": r[4]}
        cur.execute(
            """SELECT parent_id, signal_id, asset, side, quantity, target, reference_price, created_at, slice_mode,
                slices, next_slice, next_slice_at, status, model_tag, prediction_id FROM parents"""
        )
        for r in cur.fetchall():
            state.parents[r[0]] = ParentOrder(
                parent_id=r[0], signal_id=r[1], asset=r[2], side=r[3], quantity=_dec(r[4]),
                target=None if r[5] is None else _dec(r[5]),
                reference_price=None if r[6] is None else _dec(r[6]), created_at=r[7],
                slice_mode=r[8], slices=[Decimal(q) for q in json.loads(r[9])], next_slice=r[10],
                next_slice_at=r[11], status=r[12], model_tag=r[13], prediction_id=r[14],
            )  # fmt: skip
        cur.execute("SELECT key, value FROM settings")
        state.settings = dict(cur.fetchall())
        cur.execute("SELECT reason, COUNT(*) FROM refusals GROUP BY reason")
        state.refusals_by_reason = {r[0]: int(r[1]) for r in cur.fetchall()}
        return state

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        """A read on a connection of its own (WAL readers never block the writer)."""
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(self._sql(sql), params)
            return cur.fetchall()
        finally:
            conn.close()


def journal_url(config_url: str | None, default_path: Path) -> str:
    """The journal's URL: the configured one, or SQLite at ``default_path``."""
    return config_url or f"sqlite:///{default_path}"
