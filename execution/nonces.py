"""Used request nonces, remembered for the replay window, in memory and (optionally) on disk.

A signed request is accepted once: its ``(key id, nonce)`` is kept until its timestamp can no
longer pass the window. Kept in memory only, a restart would forget them and a request captured in
the last window could be replayed once; with a file, every accepted nonce is written (SQLite, WAL,
``synchronous=NORMAL``: it survives a crash of the process, which is what a restart is) before the
request goes on, and the nonces still inside their window are read back at start.

The memory check comes first and reserves the pair at once, so a replay arriving while the first
request waits for its write is refused; the file is written by one thread that commits whatever
nonces queued up meanwhile in one transaction (group commit), so the event loop never waits on
SQLite and 500 requests a second cost a few commits, not 500. ``use`` hands back a future that
resolves once the nonce is on disk; the request goes on only then.
"""

from __future__ import annotations

import concurrent.futures
import queue
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

_DDL = """CREATE TABLE IF NOT EXISTS nonces (
    key_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (key_id, nonce))"""
_PRUNE_EVERY = 1000  # expired rows leave the file in batches: one DELETE per this many inserts
_STOP = object()


class NonceReused(Exception):
    """The nonce was already used by this key within its window."""


class NonceStoreFull(Exception):
    """More nonces in the window than the store keeps (a flood)."""


class NonceStoreClosed(RuntimeError):
    """The store was closed: no nonce can be made durable any more."""


_Pending = tuple[str, str, float, float, concurrent.futures.Future]


class NonceStore:
    """``use(key_id, nonce, now, expires_at)`` succeeds once per pair until ``expires_at``."""

    def __init__(self, path: Path | str | None = None, max_nonces: int = 500_000):
        self.max_nonces = max_nonces
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # (key, nonce) -> expiry
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._closed = False
        self._inserts = 0
        self.commits = 0  # transactions written (fewer than nonces when requests arrive together)
        if path is not None:
            self._open(Path(path))

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_DDL)
        rows = db.execute("SELECT key_id, nonce, expires_at FROM nonces ORDER BY expires_at").fetchall()
        for key_id, nonce, expires_at in rows:
            self._seen[(key_id, nonce)] = expires_at
        self._writer = threading.Thread(target=self._write, args=(db,), name="nonce-writer", daemon=True)
        self._writer.start()

    def __len__(self) -> int:
        return len(self._seen)

    def use(
        self, key_id: str, nonce: str, now: float, expires_at: float
    ) -> concurrent.futures.Future[None] | None:
        """Record the pair; raise :class:`NonceReused` if it is still remembered.

        With a file, returns a future that resolves once the pair is on disk (or fails with the
        reason it could not be written): let the request through only then. In memory only: None.
        """
        with self._lock:
            self._forget_expired(now)
            if (key_id, nonce) in self._seen:
                raise NonceReused(nonce)
            if len(self._seen) >= self.max_nonces:
                raise NonceStoreFull()
            if self._closed or (self._writer is not None and not self._writer.is_alive()):
                raise NonceStoreClosed("the nonce store is closed: no nonce can be written")
            # expiries arrive nearly in order; one earlier than the last is only kept a little longer
            self._seen[(key_id, nonce)] = expires_at
            if self._writer is None:
                return None
            durable: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._queue.put((key_id, nonce, now, expires_at, durable))
            return durable

    def _write(self, db: sqlite3.Connection) -> None:
        """The writer thread: commit every nonce queued so far in one transaction, then settle them."""
        try:
            while True:
                first = self._queue.get()
                group = [first]
                while True:  # whatever queued while the last commit ran goes in this one
                    try:
                        group.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is _STOP for item in group)
                pending: list[_Pending] = [item for item in group if item is not _STOP]  # type: ignore[misc]
                if pending:
                    self._commit(db, pending)
                if stop:
                    return
        finally:
            db.close()

    def _commit(self, db: sqlite3.Connection, pending: list[_Pending]) -> None:
        try:
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO nonces VALUES (?, ?, ?)", [(k, n, e) for k, n, _, e, _ in pending]
            )
            before = self._inserts // _PRUNE_EVERY
            self._inserts += len(pending)
            if self._inserts // _PRUNE_EVERY != before:
                db.execute("DELETE FROM nonces WHERE expires_at <= ?", (max(p[2] for p in pending),))
            db.execute("COMMIT")
            self.commits += 1
        except Exception as exc:  # any failure refuses these requests; the writer goes on
            if db.in_transaction:
                db.execute("ROLLBACK")
            for *_, durable in pending:  # the requests are refused; their nonces stay used in memory
                durable.set_exception(NonceStoreClosed(f"the nonce could not be written: {exc}"))
            return
        for *_, durable in pending:
            durable.set_result(None)

    def _forget_expired(self, now: float) -> None:
        while self._seen:  # expired nonces leave from the front (inserted in time order)
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[oldest]

    def close(self) -> None:
        """Write what is queued, then close the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = self._writer is not None  # in memory only, the store goes on working
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
