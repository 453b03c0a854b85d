"""The order manager: sends child orders, retries, resolves lost answers and reconciles with venues.

Rules it keeps:

- every transition is journaled (durably) before the venue is called; the venue's answer to a
  placement is queued for the journal's next group commit without holding up the caller (the
  order is already durable as ``submitted``: restart reconciliation recovers it from the venue),
  and the journal commits in queue order, so no later state of an order lands before it;
- a retry reuses the client order id, and a venue dedupes by it, so a retried order is never
  a second order; an order whose answer was lost is ``unknown`` until the venue says what it is;
- an order the venue has not seen is resent only after its request expired (``expires_at``), so
  a late copy cannot appear afterwards; while HALTED it is cancelled instead;
- fills are counted once by fill id, in any order; the update stream's cursor is journaled with them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from execution import orders as sm
from execution.journal import Journal, JournalState
from execution.killswitch import KillSwitch, SwitchState
from execution.metrics import Metrics
from execution.orders import ChildOrder, OrderState
from execution.venues.base import (
    OrderNotFound,
    OrderRejected,
    RateLimited,
    Side,
    Venue,
    VenueError,
    VenueFill,
    VenueUnavailable,
)
from kimera.config import ExecutionOms

log = logging.getLogger("kimera.execution.oms")
S = OrderState
ZERO = Decimal(0)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff."""
    return random.uniform(0, min(cap, base * 2**attempt))


class OrderManager:
    def __init__(
        self,
        journal: Journal,
        venues: dict[str, Venue],
        cfg: ExecutionOms,
        killswitch: KillSwitch,
        metrics: Metrics,
        on_fill: Callable[[ChildOrder, VenueFill], None],
    ):
        self.journal, self.venues, self.cfg = journal, venues, cfg
        self.killswitch, self.metrics, self.on_fill = killswitch, metrics, on_fill
        self.orders: dict[str, ChildOrder] = {}
        self.live_by_intent: dict[str, str] = {}
        self.by_parent: dict[str, list[ChildOrder]] = {}
        self.cursors: dict[str, str | None] = {}
        self.busy: set[str] = set()
        self.tasks: set[asyncio.Task] = set()
        self.orphan_fills = 0
        # what live orders may still add, per asset (signed base units), kept as each order changes:
        # a decision reads it in O(1) however many orders are in flight
        self._open: dict[str, Decimal] = {}
        self._counted: dict[str, Decimal] = {}  # client order id -> its part of _open

    # --- bookkeeping -----------------------------------------------------------------------------
    def restore(self, state: JournalState) -> None:
        for order in state.orders.values():
            self.orders[order.client_order_id] = order
            self.by_parent.setdefault(order.parent_id, []).append(order)
            if order.live:
                self.live_by_intent[order.intent_key] = order.client_order_id
            self.track_exposure(order)
        self.cursors = {
            k.removeprefix("cursor:"): v for k, v in state.settings.items() if k.startswith("cursor:")
        }

    def register(self, order: ChildOrder) -> None:
        """Track a new order; refuses a second live order for the same intent."""
        held = self.live_by_intent.get(order.intent_key)
        if held is not None and self.orders[held].live:
            raise sm.IllegalTransition(f"intent {order.intent_key} already has live order {held}")
        self.orders[order.client_order_id] = order
        self.live_by_intent[order.intent_key] = order.client_order_id
        self.by_parent.setdefault(order.parent_id, []).append(order)
        self.track_exposure(order)

    def live_orders(self) -> list[ChildOrder]:
        return [self.orders[cid] for cid in self.live_by_intent.values()]

    def track_exposure(self, order: ChildOrder) -> None:
        """Bring ``open_exposure`` up to ``order``'s state; called after every change to an order."""
        now = order.remaining if order.live else ZERO
        if now and order.side is Side.SELL:
            now = -now
        was = self._counted.get(order.client_order_id, ZERO)
        if now != was:
            self._open[order.asset] = self._open.get(order.asset, ZERO) + (now - was)
            if now:
                self._counted[order.client_order_id] = now
            else:
                del self._counted[order.client_order_id]

    def open_exposure(self, asset: str) -> Decimal:
        """What the live orders of ``asset`` may still add to its position (signed, exact)."""
        return self._open.get(asset, ZERO)

    def unregister(self, order: ChildOrder) -> None:
        was = self._counted.pop(order.client_order_id, ZERO)
        if was:
            self._open[order.asset] -= was
        self.orders.pop(order.client_order_id, None)
        siblings = self.by_parent.get(order.parent_id, [])
        if order in siblings:
            siblings.remove(order)
        if self.live_by_intent.get(order.intent_key) == order.client_order_id:
            del self.live_by_intent[order.intent_key]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in S}
        for o in self.orders.values():
            out[o.state.value] += 1
        return out

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _journal(self, order: ChildOrder, *events: sm.OrderEvent | None) -> None:
        self.track_exposure(order)
        t0 = time.perf_counter()
        await self.journal.write(self.journal.order_change(order, events))
        self.metrics.observe("journal", time.perf_counter() - t0)
        if not order.live and self.live_by_intent.get(order.intent_key) == order.client_order_id:
            del self.live_by_intent[order.intent_key]

    def _journal_behind(self, order: ChildOrder, *events: sm.OrderEvent | None) -> None:
        """Queue the venue's answer for the journal's next group commit, without waiting for it.

        Only for a state the venue has already taken (its ack, with any fill it reports): the order was
        durable as ``submitted`` before the call, so a crash before this commit leaves it
        ``submitted`` in the journal and restart reconciliation asks the venue what became of it.
        The journal commits in queue order: any later state of this order lands after this one.
        """
        self.track_exposure(order)
        self.journal.write_behind(self.journal.order_change(order, events))
        if not order.live and self.live_by_intent.get(order.intent_key) == order.client_order_id:
            del self.live_by_intent[order.intent_key]

    # --- sending ---------------------------------------------------------------------------------
    def created_and_submitted(self, order: ChildOrder) -> list:
        """Statements recording a new order as created and submitted, for the decision's own unit.

        Journaling ``submitted`` with the decision saves a commit on the way to the venue; the rule
        holds: it is durable before :meth:`send` calls the venue.
        """
        created = sm.OrderEvent(
            order.client_order_id, S.NEW, S.NEW, order.created_at, "created", order.filled
        )
        submitted = sm.transition(order, S.SUBMITTED)
        return self.journal.order_change(order, [created, submitted])

    async def send(self, order: ChildOrder) -> None:
        """Send an order journaled as ``submitted`` (by :meth:`created_and_submitted`)."""
        if order.state is not S.SUBMITTED or order.client_order_id in self.busy:
            return
        self.busy.add(order.client_order_id)
        try:
            if self.killswitch.state is SwitchState.HALTED:
                await self._journal(
                    order, sm.transition(order, S.CANCELLED, "kill switch HALTED before sending")
                )
                return
            await self._send(order)
        finally:
            self.busy.discard(order.client_order_id)

    async def submit(self, order: ChildOrder) -> None:
        """Send a ``new`` order (already journaled as new)."""
        if order.state is not S.NEW or order.client_order_id in self.busy:
            return
        self.busy.add(order.client_order_id)
        try:
            if self.killswitch.state is SwitchState.HALTED:
                await self._journal(
                    order, sm.transition(order, S.CANCELLED, "kill switch HALTED before sending")
                )
                return
            await self._journal(order, sm.transition(order, S.SUBMITTED))
            await self._send(order)
        finally:
            self.busy.discard(order.client_order_id)

    async def _send(self, order: ChildOrder) -> None:
        venue = self.venues[order.venue]
        attempt = 0
        while True:
            now = time.time()
            sm.mark_sent(order, now)
            t0 = time.perf_counter()
            try:
                report = await venue.place_order(order.request(expires_at=now + self.cfg.venue_timeout_s))
            except RateLimited as exc:
                wait = max(exc.retry_after, backoff(attempt, self.cfg.backoff_base_s, self.cfg.backoff_max_s))
                error = exc
            except VenueUnavailable as exc:  # never reached the venue: safe to send again
                wait = backoff(attempt, self.cfg.backoff_base_s, self.cfg.backoff_max_s)
                error = exc
            except OrderRejected as exc:
                await self._journal(order, sm.transition(order, S.REJECTED, exc.reason))
                return
            except VenueError as exc:  # timeout or lost answer: the order may exist
                self.metrics.venue_errors.labels(order.venue, type(exc).__name__).inc()
                if order.state is not S.SUBMITTED:  # the venue's updates told us meanwhile (e.g. filled)
                    return
                await self._journal(order, sm.transition(order, S.UNKNOWN, f"no answer: {exc}"))
                self.spawn(self.resolve(order))
                return
            else:
                self.metrics.observe("venue_place", time.perf_counter() - t0)
                # the signal's answer need not wait for this commit (docs/execution.md, "What is durable")
                self._journal_behind(order, sm.apply_report(order, report))
                return
            self.metrics.venue_errors.labels(order.venue, type(error).__name__).inc()
            attempt += 1
            if attempt >= self.cfg.max_attempts:  # every attempt was refused unprocessed
                await self._journal(
                    order, sm.transition(order, S.REJECTED, f"gave up after {attempt} attempts: {error}")
                )
                return
            await asyncio.sleep(wait)
            if self.killswitch.state is SwitchState.HALTED:
                await self._journal(
                    order, sm.transition(order, S.CANCELLED, "kill switch HALTED during retries")
                )
                return

    async def resolve(self, order: ChildOrder) -> None:
        """Find out what became of an ``unknown`` order, resending it once its request has expired unseen."""
        if order.client_order_id in self.busy:
            return
        self.busy.add(order.client_order_id)
        try:
            attempt = 0
            venue = self.venues[order.venue]
            while order.state is S.UNKNOWN:
                try:
                    report = await venue.fetch_order(order.symbol, order.client_order_id)
                except OrderNotFound:
                    expired = order.last_sent_at + self.cfg.venue_timeout_s + self.cfg.unknown_grace_s
                    if time.time() < expired:
                        await asyncio.sleep(min(expired - time.time() + 0.01, self.cfg.backoff_max_s))
                        continue
                    if self.killswitch.state is SwitchState.HALTED:
                        await self._journal(
                            order,
                            sm.transition(order, S.CANCELLED, "never reached the venue; kill switch HALTED"),
                        )
                        return
                    await self._journal(
                        order, sm.transition(order, S.SUBMITTED, "resend: the venue never saw it")
                    )
                    await self._send(order)
                    return
                except RateLimited as exc:
                    await asyncio.sleep(max(exc.retry_after, backoff(attempt, self.cfg.backoff_base_s, 1.0)))
                except VenueError:
                    await asyncio.sleep(backoff(attempt, self.cfg.backoff_base_s, self.cfg.backoff_max_s))
                else:
                    await self._journal(order, sm.apply_report(order, report))
                    return
                attempt += 1
        finally:
            self.busy.discard(order.client_order_id)

    async def cancel(self, order: ChildOrder, reason: str = "cancel requested") -> ChildOrder:
        """Cancel ``order`` (cancels are never blocked by the kill switch or risk)."""
        if order.state is S.NEW:
            await self._journal(order, sm.transition(order, S.CANCELLED, reason))
            return order
        if not order.live:
            return order
        await self._journal(order, sm.note(order, reason))
        venue = self.venues[order.venue]
        for attempt in range(self.cfg.max_attempts):
            try:
                report = await venue.cancel_order(order.symbol, order.client_order_id)
            except OrderNotFound:
                return order  # not at the venue (yet): resolve() decides
            except RateLimited as exc:
                await asyncio.sleep(max(exc.retry_after, backoff(attempt, self.cfg.backoff_base_s, 1.0)))
            except VenueUnavailable:
                await asyncio.sleep(backoff(attempt, self.cfg.backoff_base_s, self.cfg.backoff_max_s))
            except VenueError:
                return order  # answer lost: the next reconcile reads the venue's state
            else:
                await self._journal(order, sm.apply_report(order, report))
                return order
        return order

    # --- learning from venues --------------------------------------------------------------------
    async def poll_updates(self, name: str) -> int:
        """Apply one page of a venue's order reports and fills; returns how many new fills."""
        venue = self.venues[name]
        cursor = self.cursors.get(name)
        updates = await venue.fetch_updates(cursor)
        statements, applied = [], []
        for fill in updates.fills:
            order = self.orders.get(fill.client_order_id)
            if order is None:  # not ours, or not journaled: keep it anyway, money moved
                statements.append(self.journal.fill(fill))
                self.orphan_fills += 1
                continue
            new, event = sm.apply_fill(order, fill)
            self.track_exposure(order)
            if new:
                statements.append(self.journal.fill(fill))
                statements.extend(self.journal.order_change(order, [event]))
                applied.append((order, fill))
        for report in updates.orders:
            order = self.orders.get(report.client_order_id)
            if order is None:
                continue
            event = sm.apply_report(order, report)
            self.track_exposure(order)
            if event is not None:
                statements.extend(self.journal.order_change(order, [event]))
        if updates.cursor is not None and updates.cursor != cursor:
            statements.append(self.journal.setting(f"cursor:{name}", updates.cursor))
        if statements:
            await self.journal.write(statements)
        self.cursors[name] = updates.cursor
        for order, fill in applied:
            if not order.live and self.live_by_intent.get(order.intent_key) == order.client_order_id:
                del self.live_by_intent[order.intent_key]
            self.metrics.fills.labels(name).inc()
            self.on_fill(order, fill)
        return len(applied)

    async def refresh(self, order: ChildOrder) -> None:
        """Ask the venue for one live order's state."""
        try:
            report = await self.venues[order.venue].fetch_order(order.symbol, order.client_order_id)
        except VenueError:
            return
        await self._journal(order, sm.apply_report(order, report))

    async def reconcile(self, startup: bool = False, max_decision_age_s: float = 30.0) -> None:
        """Bring the journal in line with the venues, by client order id."""
        for name in self.venues:
            try:
                while await self.poll_updates(name):
                    pass
            except VenueError as exc:
                log.warning("reconcile: %s updates unavailable: %s", name, exc)
        now = time.time()
        for order in list(self.orders.values()):
            if order.client_order_id in self.busy or not order.live:
                continue
            if order.state is S.NEW:
                if now - order.created_at > max_decision_age_s:
                    await self._journal(order, sm.transition(order, S.CANCELLED, "decision too old to send"))
                elif startup:
                    self.spawn(self.submit(order))
            elif order.state is S.SUBMITTED and (
                startup or now - order.last_sent_at > 2 * self.cfg.venue_timeout_s
            ):
                await self._journal(
                    order, sm.transition(order, S.UNKNOWN, "in flight when the service stopped")
                )
                self.spawn(self.resolve(order))
            elif order.state is S.UNKNOWN:
                self.spawn(self.resolve(order))
            elif startup or now - order.updated_at > self.cfg.reconcile_interval_s:
                self.spawn(self.refresh(order))

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight sends and resolutions (tests and shutdown)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
