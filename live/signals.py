"""Signals from the loop to the execution service: journaled first, then sent over one connection.

Every tradeable prediction becomes a signal (``docs/contracts.md``: ``POST /signals``) written to
the loop's outbox (SQLite, ``KIMERA_HOME/live/outbox.sqlite``, synchronous) before anything is
sent. A sender task drains the outbox in order over one kept-alive, signed HTTP connection. When
the service is down or answers 429/5xx the signal stays queued and is retried with backoff, for as
long as it takes (the queue is durable: a restart of the loop sends what was left); a signal id
is fixed by (model, asset, bar) (``live.model.prediction_id``), so a retry or a replay after a
crash is one order at most: the service's intake is idempotent by signal id.

The outbox also says which bars were traded: a restarted loop never signals a bar at or before
the newest bar in its outbox (:meth:`Outbox.last_bar`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from live.clock import Clock
from live.model import Prediction

SCHEMA = """
create table if not exists signals (
  seq integer primary key autoincrement,
  signal_id text not null unique,
  asset text not null,
  bar_time text not null,
  body text not null,
  queued_at text not null,
  status text not null default 'queued',  -- queued | accepted | rejected
  http_status integer,
  answer text,
  attempts integer not null default 0,
  acked_at text
)
"""


def signal_body(p: Prediction) -> dict[str, Any]:
    """The contract's signal for a prediction; its id is the prediction's."""
    return {
        "signal_id": p.prediction_id,
        "asset": p.asset,
        "model_tag": p.model_tag,
        "prediction_id": p.prediction_id,
        "feature_time": p.feature_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "horizon": p.horizon,
        "forecast": p.forecast,
        "lower": p.lower,
        "upper": p.upper,
        "p_up": p.p_up,
    }


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")  # a queued signal survives a power cut
        self.db.execute(SCHEMA)

    def put(self, prediction: Prediction, now: datetime) -> bool:
        """Queue ``prediction``'s signal; False when that signal id was queued before."""
        cursor = self.db.execute(
            "insert or ignore into signals (signal_id, asset, bar_time, body, queued_at) values (?, ?, ?, ?, ?)",
            [
                prediction.prediction_id,
                prediction.asset,
                prediction.feature_time.isoformat(sep=" "),
                json.dumps(signal_body(prediction)),
                now.isoformat(sep=" "),
            ],
        )
        return cursor.rowcount == 1

    def queued(self, limit: int = 100) -> list[tuple[int, str, str]]:
        return self.db.execute(
            "select seq, signal_id, body from signals where status = 'queued' order by seq limit ?", [limit]
        ).fetchall()

    def settle(self, seq: int, status: str, http_status: int | None, answer: str, now: datetime) -> None:
        self.db.execute(
            "update signals set status = ?, http_status = ?, answer = ?, attempts = attempts + 1, acked_at = ? "
            "where seq = ?",
            [status, http_status, answer[:2000], now.isoformat(sep=" "), seq],
        )

    def attempt_failed(self, seq: int, answer: str) -> None:
        self.db.execute(
            "update signals set attempts = attempts + 1, answer = ? where seq = ?", [answer[:2000], seq]
        )

    def last_bar(self) -> datetime | None:
        """The newest bar a signal was queued for (the loop never signals it, or an earlier one, again)."""
        row = self.db.execute("select max(bar_time) from signals").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("select status, count(*) from signals group by status").fetchall())

    def bars_traded(self) -> int:
        """Bars with at least one signal the service accepted (over every run of this outbox)."""
        row = self.db.execute(
            "select count(distinct bar_time) from signals where status = 'accepted'"
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self.db.close()


@dataclass
class SenderStats:
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    ack_ms: list[float] | None = None


class SignalSender:
    """Drains the outbox to ``url`` over one signed, kept-alive connection (``auth``: kimera.signing)."""

    def __init__(
        self,
        outbox: Outbox,
        url: str,
        auth: httpx.Auth,
        clock: Clock,
        timeout_s: float = 5.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.outbox, self.url, self.clock = outbox, url.rstrip("/"), clock
        self.client = httpx.AsyncClient(
            base_url=self.url,
            auth=auth,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self.max_backoff_s = max_backoff_s
        self.stats = SenderStats(ack_ms=[])
        self.sent_at: dict[str, float] = {}  # signal id -> clock.monotonic() of its ack
        self._wake = asyncio.Event()
        self._stop = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Send until :meth:`stop`; never gives up on a queued signal."""
        backoff = 0.05
        while not self._stop:
            batch = self.outbox.queued()
            if not batch:
                self._wake.clear()
                await self._wait(1.0)
                continue
            for seq, signal_id, body in batch:
                started = self.clock.monotonic()
                try:
                    response = await self.client.post(
                        "/signals", content=body, headers={"content-type": "application/json"}
                    )
                except httpx.HTTPError as exc:
                    self.outbox.attempt_failed(seq, f"{type(exc).__name__}: {exc}")
                    self.stats.retries += 1
                    await self._wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
                    break
                if response.status_code == 429 or response.status_code >= 500:
                    self.outbox.attempt_failed(seq, f"HTTP {response.status_code}: {response.text[:500]}")
                    self.stats.retries += 1
                    await self._wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff_s)
                    break
                backoff = 0.05
                acked = self.clock.monotonic()
                status = "accepted" if response.status_code < 300 else "rejected"
                self.outbox.settle(seq, status, response.status_code, response.text, self.clock.now())
                setattr(self.stats, status, getattr(self.stats, status) + 1)
                self.stats.ack_ms.append((acked - started) * 1e3)  # type: ignore[union-attr]
                self.sent_at[signal_id] = acked

    async def _wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for can swallow a cancel on 3.11
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is queued (True) or ``timeout_s`` passes (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.outbox.queued(1):
            if loop.time() > deadline:
                return False
            self.wake()
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        self._stop = True
        self.wake()
        await self.client.aclose()
