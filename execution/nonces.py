"""Used request nonces, remembered for the replay window, in memory and (optionally) on disk.

A signed request is accepted once: its ``(key id, nonce)`` is kept until its timestamp can no
longer pass the window. Kept in memory only, a restart would forget them and a request captured in
the last window could be replayed once; with a file, every accepted nonce is written (SQLite, WAL,
``synchronous=NORMAL``: it survives a crash of the process, which is what a restart is) before the
request goes on, and the nonces still inside their window are read back at start.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

_DDL = """CREATE TABLE IF NOT EXISTS nonces (
    key_id TEXT NOT NULL, nonce TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (key_id, nonce))"""
_PRUNE_EVERY = 1000  # expired rows leave the file in batches: one DELETE per this many inserts


class NonceReused(Exception):
    """The nonce was already used by this key within its window."""


class NonceStoreFull(Exception):
    """More nonces in the window than the store keeps (a flood)."""


class NonceStore:
    """``use(key_id, nonce, now, expires_at)`` succeeds once per pair until ``expires_at``."""

    def __init__(self, path: Path | str | None = None, max_nonces: int = 500_000):
        self.max_nonces = max_nonces
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # (key, nonce) -> expiry
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._inserts = 0
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
        self._db = db

    def __len__(self) -> int:
        return len(self._seen)

    def use(self, key_id: str, nonce: str, now: float, expires_at: float) -> None:
        """Record the pair; raise :class:`NonceReused` if it is still remembered."""
        with self._lock:
            self._forget_expired(now)
            if (key_id, nonce) in self._seen:
                raise NonceReused(nonce)
            if len(self._seen) >= self.max_nonces:
                raise NonceStoreFull()
            if self._db is not None:  # on disk before the request is let through
                self._db.execute(
                    "INSERT OR REPLACE INTO nonces VALUES (?, ?, ?)", (key_id, nonce, expires_at)
                )
                self._inserts += 1
                if self._inserts % _PRUNE_EVERY == 0:
                    self._db.execute("DELETE FROM nonces WHERE expires_at <= ?", (now,))
            # expiries arrive nearly in order; one earlier than the last is only kept a little longer
            self._seen[(key_id, nonce)] = expires_at

    def _forget_expired(self, now: float) -> None:
        while self._seen:  # expired nonces leave from the front (inserted in time order)
            oldest, expiry = next(iter(self._seen.items()))
            if expiry > now:
                break
            del self._seen[oldest]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
