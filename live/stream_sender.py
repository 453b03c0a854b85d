"""Signals from the loop over the execution service's streaming intake (``live.intake: stream``).

The same outbox and guarantees as :class:`live.signals.SignalSender` (journaled here first, sent in
order, retried for as long as it takes, one order at most per signal id since the service is
idempotent by id), but the queued signals go as MAC'd batches over one websocket
(:mod:`connect.signal_stream`) instead of one ``POST /signals`` each. A lost or refused connection
is opened again with backoff; what was not acknowledged is sent again on the new one.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from websockets.exceptions import WebSocketException

from connect.signal_stream import SignalStreamClient, StreamRefused
from kimera.signing import SignedAuth
from live.clock import Clock
from live.signals import Outbox, SenderStats, SignalSender


class StreamSignalSender(SignalSender):
    """Drains the outbox to ``url``'s ``/signals/stream`` in batches of up to ``batch`` signals."""

    def __init__(
        self,
        outbox: Outbox,
        url: str,
        auth: SignedAuth,
        clock: Clock,
        max_backoff_s: float = 5.0,
        batch: int = 500,
    ) -> None:
        self.outbox, self.url, self.clock, self.auth = outbox, url.rstrip("/"), clock, auth
        self.max_backoff_s, self.batch = max_backoff_s, batch
        self.stats = SenderStats(ack_ms=[])
        self.sent_at: dict[str, float] = {}
        self.client: SignalStreamClient | None = None
        self._wake = asyncio.Event()
        self._stop = False

    async def run(self) -> None:
        """Send until :meth:`stop`; never gives up on a queued signal."""
        backoff = 0.05
        while not self._stop:
            batch = self.outbox.queued(self.batch)
            if not batch:
                self._wake.clear()
                await self._wait(1.0)
                continue
            started = self.clock.monotonic()
            try:
                if self.client is None:
                    self.client = await SignalStreamClient.connect_with(self.url, self.auth)
                results = await self.client.submit([body.encode() for _, _, body in batch])
            except (OSError, WebSocketException, StreamRefused, TimeoutError) as exc:
                for seq, _, _ in batch:
                    self.outbox.attempt_failed(seq, f"{type(exc).__name__}: {exc}")
                self.stats.retries += 1
                await self._drop_client()
                await self._wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            acked = self.clock.monotonic()
            retry = False
            for (seq, signal_id, _), result in zip(batch, results, strict=True):
                status, answer = result["status"], orjson.dumps(result["answer"]).decode()
                if status == 429 or status >= 500:  # this one is tried again; the rest are settled
                    self.outbox.attempt_failed(seq, f"{status}: {answer[:500]}")
                    retry = True
                    continue
                outcome = "accepted" if status < 300 else "rejected"
                self.outbox.settle(seq, outcome, status, answer, self.clock.now())
                setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
                self.stats.ack_ms.append((acked - started) * 1e3)  # type: ignore[union-attr]
                self.sent_at[signal_id] = acked
            if retry:
                self.stats.retries += 1
                await self._wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            else:
                backoff = 0.05

    async def _drop_client(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
            self.client = None

    async def stop(self) -> None:
        self._stop = True
        self.wake()
        await self._drop_client()
