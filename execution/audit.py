"""The audit trail: an append-only, hash-chained log of every signal, decision, refusal, order and fill.

Each entry holds ``(seq, at_ms, kind, ref, record, prev, hash)`` where ``record`` is canonical JSON,
``prev`` the previous entry's hash (64 zeros for the first) and
``hash = sha256(seq \\n at_ms \\n kind \\n ref \\n prev \\n record)``. Editing an entry changes its
hash; removing or inserting one breaks the next entry's ``prev``; the journal records the head
(``settings.audit_head``) in the same commit, so entries cut off the end are found too.

The log lives in the journal's database, in a table of its own, and is written by the journal's
writer thread inside the very transaction that journals what it describes: the journal never holds
a signal, order or fill the audit trail lacks, and the other way round. Triggers refuse UPDATE and
DELETE on the table; the chain catches whoever drops them. ``kimera audit verify`` checks the
chain and compares the journal's orders and fills with their last audited state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from execution.journal import Journal, Statement
from execution.orders import ChildOrder, OrderEvent
from execution.slicing import ParentOrder
from execution.venues.base import VenueFill

log = logging.getLogger("kimera.execution.audit")

GENESIS = "0" * 64
AUDITED = "-- audited --"  # marker statement: params are (inner statement or None, [(kind, ref, record)])
HEAD_KEY = "audit_head"
AUDIT_SQL = "INSERT INTO audit (seq, at_ms, kind, ref, record, prev, hash) VALUES (?,?,?,?,?,?,?)"

_SQLITE_DDL = [
    """CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, ref TEXT,
        record TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_by_ref ON audit (ref)",
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
]
_POSTGRES_DDL = [
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, kind TEXT NOT NULL, ref TEXT,
        record TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_by_ref ON audit (ref)",
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
]


def canonical(record: dict[str, Any]) -> str:
    """Record as canonical JSON: sorted keys, no spaces, Decimals and enums as strings."""
    return orjson.dumps(
        record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=_plain
    ).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def entry_hash(seq: int, at_ms: int, kind: str, ref: str | None, prev: str, record: str) -> str:
    text = "\n".join((str(seq), str(at_ms), kind, ref or "", prev, record))
    return hashlib.sha256(text.encode()).hexdigest()


# --- what an entry says ---------------------------------------------------------------------------
def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_record(o: ChildOrder, events: list[OrderEvent]) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id, "parent_id": o.parent_id, "intent_key": o.intent_key,
        "venue": o.venue, "symbol": o.symbol, "asset": o.asset, "side": o.side.value, "amount": _s(o.amount),
        "limit_price": _s(o.limit_price), "time_in_force": o.time_in_force.value, "state": o.state.value,
        "filled": _s(o.filled), "cost": _s(o.cost), "fees": _s(o.fees), "venue_filled": _s(o.venue_filled),
        "venue_order_id": o.venue_order_id, "attempts": o.attempts, "reason": o.reason,
        "signal_id": o.signal_id, "model_tag": o.model_tag, "prediction_id": o.prediction_id,
        "events": [{"from": e.from_state.value, "to": e.to_state.value, "at": e.at, "reason": e.reason,
                    "filled": _s(e.filled)} for e in events],
    }  # fmt: skip


_ORDER_FIELDS = (
    "client_order_id",
    "parent_id",
    "intent_key",
    "venue",
    "symbol",
    "asset",
    "side",
    "amount",
    "limit_price",
    "time_in_force",
    "state",
    "filled",
    "cost",
    "fees",
    "venue_filled",
    "venue_order_id",
    "attempts",
    "reason",
    "signal_id",
    "model_tag",
    "prediction_id",
)  # the orders row's first columns


def fill_record(f: VenueFill) -> dict[str, Any]:
    return {"venue": f.venue, "fill_id": f.fill_id, "client_order_id": f.client_order_id, "symbol": f.symbol,
            "side": f.side.value, "price": f.price, "amount": f.amount, "fee": f.fee, "timestamp": f.timestamp}  # fmt: skip


_PARENT_FIELDS = tuple(f.name for f in dataclasses.fields(ParentOrder))


def parent_record(p: ParentOrder) -> dict[str, Any]:
    """``dataclasses.asdict(p)`` without its deep copies (~45 us of each decision's CPU): the fields
    are immutable values but ``slices``, copied here so a later change cannot reach the record."""
    record = {name: getattr(p, name) for name in _PARENT_FIELDS}
    record["slices"] = list(p.slices)
    return record


class AuditedJournal(Journal):
    """The journal, with every meaningful write also appended to the hash-chained audit log."""

    def __init__(self, url: str | Path, synchronous: str = "full", max_group: int = 4096, clock_ms=None):
        super().__init__(url, synchronous, max_group)
        self.head: tuple[int, str] = (0, GENESIS)  # (seq, hash), as the writer sees it
        self._committed: tuple[int, str] = self.head
        self._head_at = self._committed_at = 0  # the head entry's at_ms (checkpoints sign it)
        self.clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self.checkpoints = None  # an execution.checkpoints.CheckpointSigner, when a key is given

    def _ddl(self) -> list[str]:
        return [*super()._ddl(), *(_SQLITE_DDL if self.dialect == "sqlite" else _POSTGRES_DDL)]

    def _load(self, cur):
        state = super()._load(cur)
        cur.execute("SELECT seq, hash, at_ms FROM audit ORDER BY seq DESC LIMIT 1")
        row = cur.fetchone()
        self.head = self._committed = (int(row[0]), row[1]) if row else (0, GENESIS)
        self._head_at = self._committed_at = int(row[2]) if row else 0
        return state

    def close(self) -> None:
        super().close()
        if self.checkpoints is not None and self._committed[0] > 0:
            self.checkpoints.close((*self._committed, self._committed_at))

    # --- the writer thread ---------------------------------------------------------------------
    batched = Journal.batched | {AUDIT_SQL}

    def _expand(self, statements: list[Statement]):
        """Each audited statement, followed by its chain entries (hashed here, in commit order)."""
        for sql, params in statements:
            if sql == AUDITED:
                inner, records = params
                if inner is not None:
                    yield inner
                for kind, ref, record in records:
                    yield self._entry(kind, ref, record)
            else:
                yield sql, params

    def _execute_unit(self, cur, statements: list[Statement]) -> None:
        before, before_at = self.head, self._head_at
        try:
            super()._execute_unit(cur, statements)
        except BaseException:
            self.head, self._head_at = before, before_at  # the savepoint is rolled back: so is the chain
            raise

    def _entry(self, kind: str, ref: str | None, record: dict[str, Any]) -> Statement:
        seq, prev = self.head[0] + 1, self.head[1]
        at_ms = self.clock_ms()
        text = canonical(record)
        digest = entry_hash(seq, at_ms, kind, ref, prev, text)
        self.head, self._head_at = (seq, digest), at_ms
        return AUDIT_SQL, (seq, at_ms, kind, ref, text, prev, digest)

    def _before_commit(self, cur) -> None:
        if self.head != self._committed:  # once per group: the head travels in the same commit
            head_sql, head_params = super().setting(HEAD_KEY, f"{self.head[0]}:{self.head[1]}")
            cur.execute(self._sql(head_sql), head_params)

    def _group_done(self, committed: bool) -> None:
        if not committed:
            self.head, self._head_at = self._committed, self._committed_at
            return
        before = (*self._committed, self._committed_at)
        self._committed, self._committed_at = self.head, self._head_at
        if self.checkpoints is not None and self.head[0] > before[0]:
            try:  # a checkpoint that cannot be written must not stop trading: it is logged
                self.checkpoints.committed(before, (*self.head, self._head_at))
            except Exception:
                log.exception("could not write the audit checkpoint of entry %d", self.head[0])

    # --- statements that are audited ------------------------------------------------------------
    @staticmethod
    def _audited(inner: Statement | None, *records: tuple[str, str | None, dict[str, Any]]) -> Statement:
        return (AUDITED, (inner, list(records)))

    def signal(self, signal_id, body, outcome, parent_id, detail) -> Statement:
        inner = super().signal(signal_id, body, outcome, parent_id, detail)
        decision = {"signal_id": signal_id, "outcome": outcome, "parent_id": parent_id, "detail": detail}
        return self._audited(inner, ("signal", signal_id, dict(body)), ("decision", signal_id, decision))

    def parent(self, p: ParentOrder) -> Statement:
        return self._audited(super().parent(p), ("parent", p.parent_id, parent_record(p)))

    def refusal(self, reason, detail, asset, signal_id, parent_id=None, venue=None) -> Statement:
        inner = super().refusal(reason, detail, asset, signal_id, parent_id, venue)
        record = {"reason": reason, "detail": detail, "asset": asset, "signal_id": signal_id,
                  "parent_id": parent_id, "venue": venue}  # fmt: skip
        return self._audited(inner, ("refusal", parent_id or signal_id, record))

    def order_change(self, order: ChildOrder, events) -> list[Statement]:
        upsert = self.upsert_order(order)
        changes = [self.event(e) for e in events if e is not None]
        # the record from the row's own values (the same strings): order_record() without converting twice
        record = dict(zip(_ORDER_FIELDS, upsert[1]))  # noqa: B905 (the row also has its times)
        record["events"] = [{"from": p[1], "to": p[2], "at": p[3], "reason": p[4], "filled": p[5]}
                            for _, p in changes]  # fmt: skip
        return [self._audited(upsert, ("order", order.client_order_id, record)), *changes]

    def fill(self, f: VenueFill) -> Statement:
        return self._audited(super().fill(f), ("fill", f.client_order_id, fill_record(f)))

    def setting(self, key: str, value: str) -> Statement:
        inner = super().setting(key, value)
        if key in ("kill_switch", "risk_limits"):  # operator decisions are audited
            return self._audited(inner, (key, None, json.loads(value)))
        return inner


# --- reading and verifying ------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    seq: int
    at_ms: int
    kind: str
    ref: str | None
    record: str
    prev: str
    hash: str

    def content(self) -> dict[str, Any]:
        return json.loads(self.record)

    def computed_hash(self) -> str:
        return entry_hash(self.seq, self.at_ms, self.kind, self.ref, self.prev, self.record)


@dataclass
class Verification:
    entries: int = 0
    head: tuple[int, str] = (0, GENESIS)
    problem: str | None = None  # the first thing wrong, naming its entry
    bad_seq: int | None = None
    mismatches: list[str] = field(default_factory=list)  # journal rows that differ from their audit
    hashes: dict[int, str] = field(default_factory=dict)  # the hashes of the entries asked for (keep=)

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.mismatches


def _connect(url: str):
    journal = Journal(url)
    return journal, journal._connect()


def entries(url: str, ref: str | None = None, kinds: tuple[str, ...] = ()) -> Iterator[Entry]:
    """Audit entries in order (all, or those about ``ref``)."""
    journal, conn = _connect(url)
    try:
        cur = conn.cursor()
        sql, params = "SELECT seq, at_ms, kind, ref, record, prev, hash FROM audit", []
        where = []
        if ref is not None:
            where.append("ref = ?")
            params.append(ref)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if where:
            sql += " WHERE " + " AND ".join(where)
        cur.execute(journal._sql(sql + " ORDER BY seq"), tuple(params))
        while rows := cur.fetchmany(5000):
            for r in rows:
                yield Entry(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6])
    finally:
        conn.close()


def verify(url: str, keep: frozenset[int] = frozenset()) -> Verification:
    """Walk the chain from the first entry; stop at the first broken link and say what broke.

    The hashes of the entries in ``keep`` are returned in ``hashes`` (for checking checkpoints).
    """
    result = Verification()
    prev_hash, expected = GENESIS, 1
    last_order: dict[str, dict[str, Any]] = {}
    fills: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries(url):
        if e.seq != expected:
            missing = f"entry {expected}" if e.seq == expected + 1 else f"entries {expected} to {e.seq - 1}"
            result.problem = (
                f"{missing} missing: entry {e.seq} ({e.kind}) follows entry {expected - 1} (removed)"
            )
            result.bad_seq = expected
            break
        if e.prev != prev_hash:  # first: a shifted entry fails its hash too, this says why
            result.problem = (
                f"entry {e.seq} ({e.kind}, ref {e.ref}) does not follow entry {e.seq - 1}: an entry was "
                f"inserted or removed before it"
            )
            result.bad_seq = e.seq
            break
        if e.computed_hash() != e.hash:
            result.problem = (
                f"entry {e.seq} ({e.kind}, ref {e.ref}) was edited: its content does not match its hash"
            )
            result.bad_seq = e.seq
            break
        prev_hash, expected = e.hash, e.seq + 1
        if e.seq in keep:
            result.hashes[e.seq] = e.hash
        result.entries, result.head = result.entries + 1, (e.seq, e.hash)
        if e.kind == "order":
            last_order[e.ref] = e.content()
        elif e.kind == "fill":
            record = e.content()
            fills[(record["venue"], record["fill_id"])] = record
    if result.problem is None:
        _check_head(url, result)
        _check_journal(url, result, last_order, fills)
    return result


def _check_head(url: str, result: Verification) -> None:
    journal, conn = _connect(url)
    try:
        cur = conn.cursor()
        cur.execute(journal._sql("SELECT value FROM settings WHERE key = ?"), (HEAD_KEY,))
        row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        if result.entries:
            result.problem = (
                "the journal records no audit head: the log cannot be checked for removed last entries"
            )
        return
    seq_text, _, digest = row[0].partition(":")
    seq = int(seq_text)
    if seq > result.head[0]:
        result.problem = f"entries {result.head[0] + 1} to {seq} missing: the journal's head is entry {seq} (removed from the end)"
        result.bad_seq = result.head[0] + 1
    elif seq < result.head[0]:
        result.problem = (
            f"entry {seq + 1} and after were appended outside the service: the journal's head is entry {seq}"
        )
        result.bad_seq = seq + 1
    elif digest != result.head[1]:
        result.problem = f"entry {seq} differs from the head the journal recorded"
        result.bad_seq = seq


def _check_journal(url: str, result: Verification, orders: dict, fills: dict) -> None:
    """The journal's current orders and fills must equal their last audited state."""
    journal, conn = _connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT client_order_id, state, filled, fees, amount, venue, side FROM orders")
        for cid, state, filled, fees, amount, venue, side in cur.fetchall():
            audited = orders.get(cid)
            if audited is None:
                result.mismatches.append(f"order {cid}: in the journal but never audited")
                continue
            now = {"state": state, "filled": Decimal(str(filled)), "fees": Decimal(str(fees)),
                   "amount": Decimal(str(amount)), "venue": venue, "side": side}  # fmt: skip
            was = {k: Decimal(audited[k]) if k in ("filled", "fees", "amount") else audited[k] for k in now}
            if now != was:
                diff = ", ".join(f"{k} {was[k]} -> {now[k]}" for k in now if now[k] != was[k])
                result.mismatches.append(f"order {cid}: the journal differs from its audit ({diff})")
        cur.execute("SELECT venue, fill_id, price, amount, fee, client_order_id FROM fills")
        for venue, fill_id, price, amount, fee, cid in cur.fetchall():
            audited = fills.get((venue, fill_id))
            if audited is None:
                result.mismatches.append(f"fill {venue}/{fill_id}: in the journal but never audited")
                continue
            for name, value in (("price", price), ("amount", amount), ("fee", fee)):
                if Decimal(str(value)) != Decimal(audited[name]):
                    result.mismatches.append(
                        f"fill {venue}/{fill_id}: {name} {audited[name]} -> {value} in the journal"
                    )
            if cid != audited["client_order_id"]:
                result.mismatches.append(f"fill {venue}/{fill_id}: moved to order {cid}")
    finally:
        conn.close()


def default_url(path: Path | str | None = None) -> str:
    """The journal to verify: ``path`` (a file or a URL), else the configured journal."""
    if path is not None:
        text = str(path)
        return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"
    from execution.journal import journal_url
    from kimera.config import load_config
    from kimera.settings import get_settings

    settings = get_settings()
    return journal_url(load_config(settings=settings).execution.journal_url, settings.journal_path)


def verify_cli(
    path: Path | str | None = None, public_key: Path | None = None, checkpoints: Path | None = None
) -> None:
    """``kimera audit verify``: print the result; exit 1 when the log or the journal was tampered with.

    With ``public_key`` (an ML-DSA-65 PEM file) the chain must also match every signed checkpoint in
    ``checkpoints`` (default: the configured checkpoints file), each checked with that key alone.
    """
    url = default_url(path)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        print(f"no journal at {url.removeprefix('sqlite:///')}: nothing to verify", file=sys.stderr)
        sys.exit(2)
    anchors, public = _anchors(public_key, checkpoints)
    result = verify(url, keep=frozenset(cp.seq for cp in anchors))
    shown = url.split("@")[-1]  # a PostgreSQL URL may carry a password before the @
    if result.problem is None and public is not None:  # a sound chain: does it match its anchors?
        from execution.checkpoints import check

        anchored = check(anchors, public, result.hashes, result.head[0])
        if anchored.problem:
            print(f"audit log NOT ANCHORED: {anchored.problem}")
            sys.exit(1)
        last = anchored.last
        print(
            f"anchored: {anchored.checked} signed checkpoints verify; the last at entry {last.seq} ({last.reason})"
        )
    if result.ok:
        print(
            f"audit log OK: {result.entries} entries, head entry {result.head[0]} hash {result.head[1]} ({shown})"
        )
        if public is None:  # the chain alone cannot see a consistent rewrite
            print("not checked against signed checkpoints: add --public-key audit_checkpoint.pub")
        return
    if result.problem:
        print(f"audit log BROKEN at entry {result.bad_seq}: {result.problem}")
    for line in result.mismatches[:50]:
        print(f"journal differs from the audit log: {line}")
    if len(result.mismatches) > 50:
        print(f"... and {len(result.mismatches) - 50} more")
    sys.exit(1)


def _anchors(public_key: Path | None, checkpoints: Path | None):
    """(checkpoints, public key) for an anchored check, or ([], None) without a public key."""
    if public_key is None:
        return [], None
    from execution import checkpoints as cps
    from kimera import pq
    from kimera.config import ConfigError, load_config
    from kimera.settings import get_settings

    try:
        public = pq.load_public(public_key)
    except pq.KeyFormatError as exc:
        raise ConfigError(str(exc)) from None
    if checkpoints is None:
        settings = get_settings()
        checkpoints = cps.default_path(settings, load_config(settings=settings).execution.audit)
    if not Path(checkpoints).is_file():
        raise ConfigError(f"no checkpoints file at {checkpoints}: give --checkpoints FILE")
    try:
        return cps.read(checkpoints), public
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
