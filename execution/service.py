"""The execution service: signal -> sizing -> pre-trade risk -> router -> order manager, and its queries.

Decisions are made in one synchronous step on the event loop (no await between reading the
exposure and registering the orders), so two signals for one asset can never both trade the same
difference. A signal, its decision, its refusals and its orders are journaled as one unit before
any order is sent; a signal id seen before returns the first answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

import orjson

from execution import orders as sm
from execution import sizing
from execution.accounts.service_bridge import AccountsBridge
from execution.accounts.service_bridge import wanted as accounts_wanted
from execution.alerting import ServiceAlerts
from execution.arbitrage_desk import ArbitrageDesk
from execution.audit import AuditedJournal
from execution.best_quote import best_quote, quote_statement
from execution.checkpoints import signer as checkpoint_signer
from execution.journal import journal_url
from execution.killswitch import KillSwitch, SwitchState
from execution.marketdata import MarketData
from execution.metrics import Metrics
from execution.oms import OrderManager
from execution.orders import ChildOrder
from execution.portfolio import Portfolio
from execution.risk import PreTradeRisk, Refusal
from execution.router import CexInput, PoolInput, route
from execution.slicing import ParentOrder, new_parent
from execution.venues.base import MarketRules, Side, TimeInForce, Venue, VenueFill
from execution.venues.http import LoopbackHttpClient
from kimera.config import ExecutionRisk, KimeraConfig
from kimera.settings import Settings

log = logging.getLogger("kimera.execution")


class SignalConflict(ValueError):
    """A signal id reused for a different signal."""


class UnknownAsset(ValueError):
    pass


@dataclass
class Decision:
    outcome: str  # orders | no_change | refused
    detail: str
    parent_id: str | None = None
    orders: list[ChildOrder] | None = None
    refusals: list[Refusal] | None = None
    target: float | None = None
    exposure: float | None = None
    accounts: list[dict[str, Any]] | None = None  # with execution.accounts: what each account did


@dataclass
class _Taken:
    """A signal decided and registered in memory, with the statements that make it durable."""

    sid: str
    decision: Decision
    statements: list
    t_start: float


_PNL_QUANTUM = Decimal("0.00000001")


def _body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


class ExecutionService:
    def __init__(self, config: KimeraConfig, settings: Settings, venues: dict[str, Venue] | None = None):
        self.config, self.settings = config, settings
        self.cfg = config.execution
        self.assets = {a.symbol: a for a in config.assets}
        url = journal_url(self.cfg.journal_url, settings.journal_path)
        self.journal = AuditedJournal(url, synchronous=self.cfg.journal_synchronous)  # every write audited
        self.journal.checkpoints = checkpoint_signer(settings, self.cfg.audit)  # anchors outside the database
        self._given_venues = venues
        self.venues: dict[str, Venue] = {}
        self.rules: dict[str, dict[str, MarketRules]] = {}
        self.killswitch = KillSwitch()
        self.portfolio = Portfolio(list(self.assets))
        self.metrics = Metrics(lambda: self.oms.counts())
        self.oms = OrderManager(self.journal, {}, self.cfg.oms, self.killswitch, self.metrics, self._on_fill)
        self.signals: dict[str, dict[str, Any]] = {}
        self.pending_signals: dict[str, asyncio.Future] = {}
        self.parents: dict[str, ParentOrder] = {}
        self.working: dict[str, ParentOrder] = {}  # parents with slices still to send
        self.day_marks: dict[str, Decimal] = {}
        self.refusal_counts: dict[str, int] = {}
        self.alerts = ServiceAlerts(config, settings)  # fills, refusals, kill switch: queued, never awaited
        self._background: list[asyncio.Task] = []
        self._http: LoopbackHttpClient | None = None
        self.market: MarketData | None = None
        self.risk: PreTradeRisk | None = None
        self.accounts: AccountsBridge | None = None  # several accounts (docs/accounts.md), when configured
        self.arbitrage: ArbitrageDesk | None = None
        self.started = False

    # --- life cycle ------------------------------------------------------------------------------
    async def start(self, connect_timeout_s: float = 30.0) -> None:
        state = await asyncio.to_thread(self.journal.open)
        self.alerts.start()
        self.signals = {k: v for k, v in state.signals.items()}
        for v in self.signals.values():
            v["hash"] = _body_hash(json.loads(v.pop("body"))) if v.get("body") else None
        self.parents = state.parents
        self.working = {pid: p for pid, p in self.parents.items() if p.status == "working"}
        self.oms.restore(state)
        for fill in state.fills:
            order = state.orders.get(fill.client_order_id)
            if order is not None:
                self.portfolio.apply(order.asset, fill)
        if "kill_switch" in state.settings:
            saved = json.loads(state.settings["kill_switch"])
            self.killswitch.set(SwitchState(saved["state"]), saved["reason"])
        if "risk_limits" in state.settings:  # an operator's change outlives a restart
            self.cfg = self.cfg.model_copy(
                update={"risk": ExecutionRisk(**json.loads(state.settings["risk_limits"]))}
            )
        self.day_marks = {k[4:]: Decimal(v) for k, v in state.settings.items() if k.startswith("day:")}
        self.refusal_counts = dict(state.refusals_by_reason)
        for reason, n in self.refusal_counts.items():
            self.metrics.refusals.labels(reason).inc(n)
        self.venues = self._given_venues or await self._connect_venues(connect_timeout_s)
        if self.cfg.venues:
            names = {v.name for v in self.cfg.venues}
            self.venues = {k: v for k, v in self.venues.items() if k in names}
        self.oms.venues = self.venues
        for name, venue in self.venues.items():
            self.rules[name] = await venue.markets()
        published = {n: min(r.rate_limit_per_s for r in rules.values()) for n, rules in self.rules.items()}
        self.risk = PreTradeRisk(self.cfg.risk, published)
        symbols = {n: [s for s in rules if s.split("/")[0] in self.assets] for n, rules in self.rules.items()}
        self.market = MarketData(
            self.venues, symbols, self.cfg.routing.book_depth, self.cfg.routing.book_max_age_s
        )
        deadline = time.time() + connect_timeout_s
        while True:  # ready once every venue has answered with a book or pool
            await self.market.refresh_all()
            if self.market.complete() or time.time() > deadline:
                break
            await asyncio.sleep(0.2)
        await self.oms.reconcile(startup=True)
        if accounts_wanted(self.cfg):
            self.accounts = AccountsBridge(self)
            await asyncio.to_thread(self.accounts.restore)
        loop = asyncio.get_running_loop()
        self._background = [
            loop.create_task(self.market.run(min(0.25, self.cfg.routing.book_max_age_s / 4))),
            loop.create_task(self._poll_loop()),
            loop.create_task(self._reconcile_loop()),
            loop.create_task(self._slice_loop()),
        ]
        if self.cfg.arbitrage.venues:  # the cross-chain desk (execution.arbitrage_desk)
            self.arbitrage = ArbitrageDesk(self)
            self._background.append(loop.create_task(self.arbitrage.run()))
        self.started = True
        log.info(
            "execution service started: venues %s, %d orders in the journal",
            list(self.venues),
            len(self.oms.orders),
        )

    async def _connect_venues(self, timeout_s: float) -> dict[str, Venue]:
        from execution.venues.factory import connect_venues

        return await connect_venues(self.config, self.settings, lambda: self._connect_paper(timeout_s))

    async def _connect_paper(self, timeout_s: float) -> dict[str, Venue]:
        from execution.venues.base import VenueUnavailable
        from execution.venues.client import paper_client, paper_venues

        self._http = paper_client(self.cfg.paper.url)
        deadline = time.time() + timeout_s
        while True:
            try:
                return await paper_venues(self._http, self.cfg.oms.venue_timeout_s)
            except VenueUnavailable:
                if time.time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        for task in list(self.oms.tasks):
            task.cancel()
        await asyncio.gather(*self._background, *self.oms.tasks, return_exceptions=True)
        await asyncio.to_thread(self.journal.close)
        await asyncio.to_thread(self.alerts.close)
        if not self._given_venues:
            for venue in self.venues.values():
                with contextlib.suppress(Exception):
                    await venue.close()
        if self._http is not None:
            await self._http.close()
        self.started = False

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.oms.fill_poll_interval_s)
            for name in self.venues:
                with contextlib.suppress(Exception):
                    await self.oms.poll_updates(name)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.oms.reconcile_interval_s)
            try:
                await self.oms.reconcile()
            except Exception:
                log.exception("periodic reconcile failed")

    # --- state the decisions read ----------------------------------------------------------------
    def _on_fill(self, order: ChildOrder, fill: VenueFill) -> None:
        self.portfolio.apply(order.asset, fill)
        self.alerts.fill(order, fill)
        if self.accounts is not None:
            self.accounts.on_fill(order, fill)
        if self.arbitrage is not None:
            self.arbitrage.on_fill(order, fill)

    def exposure(self, asset: str) -> float:
        """Position plus what live orders and unsent slices may still add (signed, base units)."""
        total = float(self.portfolio.quantity(asset) + self.oms.open_exposure(asset))
        for p in self.working.values():
            if p.asset == asset:
                total += p.sign * float(p.unsent())
        return total

    def marks(self) -> dict[str, Decimal | None]:
        out = {}
        for asset, a in self.assets.items():
            ref = self.market.reference_price(a.pair) if self.market else None
            out[asset] = None if ref is None else Decimal(repr(ref))
        return out

    def pnl(self) -> dict[str, Any]:
        pnl = self.portfolio.pnl(self.marks())
        pnl["daily"] = pnl["total"] - self._day_mark(pnl["total"])
        return {k: v.quantize(_PNL_QUANTUM) for k, v in pnl.items()}

    def daily_pnl(self) -> float:
        """Today's P&L, as :meth:`pnl` reports it, marking only the assets held (the risk check's path)."""
        total = Decimal(0)
        for asset, p in self.portfolio.positions.items():
            total += p.realised - p.fees
            if p.quantity and asset in self.assets:
                ref = self.market.reference_price(self.assets[asset].pair) if self.market else None
                total += p.unrealised(None if ref is None else Decimal(repr(ref)))
        return float((total - self._day_mark(total)).quantize(_PNL_QUANTUM))

    def _day_mark(self, total: Decimal) -> Decimal:
        """The total P&L at the start of today (UTC): the first one seen today, journaled."""
        day = time.strftime("%Y-%m-%d", time.gmtime())
        mark = self.day_marks.get(day)
        if mark is None:
            mark = self.day_marks[day] = total
            self.journal.submit([self.journal.setting(f"day:{day}", str(total))])
        return mark

    def _refuse(self, refusal: Refusal) -> None:
        self.metrics.refusals.labels(refusal.reason).inc()
        self.refusal_counts[refusal.reason] = self.refusal_counts.get(refusal.reason, 0) + 1
        self.alerts.refusal(refusal)

    # --- signals ---------------------------------------------------------------------------------
    async def handle_signal(self, body: dict[str, Any], key_id: str | None = None) -> dict[str, Any]:
        """Decide on a signal (idempotent by signal_id) and send its orders; see docs/execution.md.

        ``key_id``: the API key that signed it; with accounts, a key bound to one account may only
        signal that account's strategies (:class:`~execution.accounts.desk.ForeignAccount`)."""
        t_start = time.perf_counter()
        taken = self._take(body, key_id, t_start)
        if taken is None:
            return await self._duplicate_view(body["signal_id"])
        future = asyncio.get_running_loop().create_future()
        self.pending_signals[taken.sid] = future
        try:
            t0 = time.perf_counter()
            await self.journal.write(taken.statements)
            self.metrics.observe("journal", time.perf_counter() - t0)
        except Exception:
            self._forget(taken)
            raise
        finally:
            future.set_result(None)
            self.pending_signals.pop(taken.sid, None)
        return await self._send_decided(taken)

    async def handle_signals(
        self, bodies: list[dict[str, Any]], key_id: str | None = None
    ) -> list[dict[str, Any] | Exception]:
        """Several signals decided in order and journaled as ONE unit (one transaction) before any
        of their orders is sent: each signal's answer as :meth:`handle_signal` gives it, or the
        exception it would raise (``SignalConflict``, ``UnknownAsset``...; a ``JournalError`` for
        every signal of the unit when the write fails, and then none of them happened)."""
        t_start = time.perf_counter()
        results: list[Any] = [None] * len(bodies)
        taken: list[tuple[int, _Taken]] = []
        statements: list = []
        for i, body in enumerate(bodies):
            try:
                t = self._take(body, key_id, t_start)
            except Exception as exc:  # this signal's refusal, as handle_signal would raise it
                results[i] = exc
                continue
            if t is not None:
                taken.append((i, t))
                statements.extend(t.statements)
        future = asyncio.get_running_loop().create_future()
        for _, t in taken:
            self.pending_signals[t.sid] = future
        try:
            if statements:
                t0 = time.perf_counter()
                await self.journal.write(statements)
                self.metrics.observe("journal", time.perf_counter() - t0)
        except Exception as exc:
            for i, t in taken:
                self._forget(t)
                results[i] = exc
            taken = []
        finally:
            future.set_result(None)
            for _, t in taken:
                self.pending_signals.pop(t.sid, None)
            for sid in [k for k, v in self.pending_signals.items() if v is future]:
                del self.pending_signals[sid]
        trading = [(i, t) for i, t in taken if t.decision.orders]
        for i, t in taken:  # no order to wait for: answered without a task each
            if not t.decision.orders:
                self.metrics.signals.labels(t.decision.outcome).inc()
                results[i] = self.signal_view(t.sid, duplicate=False, decision=t.decision)
        answers = await asyncio.gather(*(self._send_decided(t) for _, t in trading))
        for (i, _), answer in zip(trading, answers, strict=True):
            results[i] = answer
        for i, body in enumerate(bodies):  # repeats of a signal already decided (here or before)
            if results[i] is None:
                try:
                    results[i] = await self._duplicate_view(body["signal_id"])
                except KeyError:  # its first occurrence was in this unit, which failed
                    results[i] = next(r for r in results if isinstance(r, Exception))
        return results

    def _take(self, body: dict[str, Any], key_id: str | None, t_start: float) -> _Taken | None:
        """Decide on a new signal and register its orders (not yet durable); None for a signal id
        seen before. Raises ``SignalConflict``, ``UnknownAsset`` or the accounts' refusals."""
        sid = body["signal_id"]
        digest = _body_hash(body)
        seen = self.signals.get(sid)
        if seen is not None:
            if seen.get("hash") not in (None, digest):
                raise SignalConflict(f"signal_id {sid!r} was already used for a different signal")
            return None
        if body["asset"] not in self.assets:
            raise UnknownAsset(
                f"asset {body['asset']!r} is not traded; configured assets: {sorted(self.assets)}"
            )
        decision, account_rows = (
            self.accounts.decide(body, key_id) if self.accounts else (self._decide(body), [])
        )
        self.metrics.observe("intake", time.perf_counter() - t_start)
        statements = [self.journal.signal(sid, body, decision.outcome, decision.parent_id, decision.detail)]
        for r in decision.refusals or []:
            statements.append(
                self.journal.refusal(r.reason, r.detail, body["asset"], sid, decision.parent_id)
            )
            self._refuse(r)
        if decision.parent_id is not None:
            parent = self.parents[decision.parent_id]
            statements.append(self.journal.parent(parent))
            if (
                quote := best_quote(self.market, self.assets[parent.asset].pair, Side(parent.side))
            ) is not None:
                statements.append(quote_statement(parent, quote, self.journal.dialect))
        statements.extend(account_rows)
        for order in decision.orders or []:
            self.oms.register(order)
            statements.extend(self.oms.created_and_submitted(order))
        self.signals[sid] = {"outcome": decision.outcome, "parent_id": decision.parent_id, "detail": decision.detail, "hash": digest}  # fmt: skip
        return _Taken(sid, decision, statements, t_start)

    def _forget(self, taken: _Taken) -> None:
        """Its journal unit failed: nothing was durable, so nothing happened."""
        decision = taken.decision
        for order in decision.orders or []:
            self.oms.unregister(order)
        if decision.parent_id:
            self.parents.pop(decision.parent_id, None)
            self.working.pop(decision.parent_id, None)
        if self.accounts is not None:
            self.accounts.forget(decision)
        self.signals.pop(taken.sid, None)

    async def _duplicate_view(self, sid: str) -> dict[str, Any]:
        if sid in self.pending_signals:
            await asyncio.shield(self.pending_signals[sid])
        return self.signal_view(sid, duplicate=True)

    async def _send_decided(self, taken: _Taken) -> dict[str, Any]:
        """Send a durable decision's orders and answer (after their acks, up to ``oms.ack_wait_s``)."""
        decision = taken.decision
        self.metrics.signals.labels(decision.outcome).inc()
        sends = [self.oms.spawn(self.oms.send(o)) for o in decision.orders or []]
        if sends and self.cfg.oms.ack_wait_s > 0:
            done, _ = await asyncio.wait(sends, timeout=self.cfg.oms.ack_wait_s)
            if len(done) == len(sends):
                self.metrics.observe("signal_to_ack", time.perf_counter() - taken.t_start)
        return self.signal_view(taken.sid, duplicate=False, decision=decision)

    def signal_view(self, sid: str, duplicate: bool, decision: Decision | None = None) -> dict[str, Any]:
        seen = self.signals[sid]
        pid = seen["parent_id"]
        orders = list(self.oms.by_parent.get(pid, [])) if pid is not None else []
        out = {
            "signal_id": sid,
            "outcome": seen["outcome"],
            "detail": seen["detail"],
            "duplicate": duplicate,
            "parent_id": pid,
            "orders": [order_view(o) for o in sorted(orders, key=lambda o: o.client_order_id)],
        }
        if decision is not None:
            out["refusals"] = [{"reason": r.reason, "detail": r.detail} for r in decision.refusals or []]
            out["target"] = decision.target
            out["exposure"] = decision.exposure
            if decision.accounts is not None:
                out["accounts"] = decision.accounts
        return out

    def _decide(self, body: dict[str, Any]) -> Decision:
        """The whole decision for one signal, synchronously (see the module docstring)."""
        asset = body["asset"]
        symbol = self.assets[asset].pair
        t0 = time.perf_counter()
        ref = self.market.reference_price(symbol)
        if ref is None:
            r = Refusal("no_reference_price", f"no fresh order book for {symbol}")
            return Decision("refused", r.detail, refusals=[r])
        target_notional = sizing.target_notional(
            float(body["forecast"]), float(body["lower"]), float(body["upper"]), self.cfg.sizing,
            self.cfg.risk.max_position_notional,
        )  # fmt: skip
        target = target_notional / ref
        exposure = self.exposure(asset)
        delta = target - exposure
        self.metrics.observe("sizing", time.perf_counter() - t0)
        lot = self._lot(symbol)
        qty = round(math.floor(abs(delta) / lot + 1e-9) * lot, 12)
        if qty * ref < self.cfg.sizing.min_order_notional or qty <= 0:
            return Decision(
                "no_change",
                f"target {target:.8g} vs exposure {exposure:.8g}",
                target=target,
                exposure=exposure,
            )
        side = Side.BUY if delta > 0 else Side.SELL
        t1 = time.perf_counter()
        refusal = self.risk.check_parent(self.killswitch, exposure, side.sign * qty, ref, self.daily_pnl())
        self.metrics.observe("risk", time.perf_counter() - t1)
        if refusal is not None:
            return Decision("refused", refusal.detail, refusals=[refusal], target=target, exposure=exposure)
        parent = self._new_parent(body, asset, side, qty, target, ref, lot)
        children, refusals = self._route_slice(parent, 0, ref)
        if not children:
            detail = refusals[0].detail if refusals else "nothing to route"
            return Decision("refused", detail, refusals=refusals, target=target, exposure=exposure)
        parent.next_slice = 1
        self.parents[parent.parent_id] = parent
        self._set_status(parent, "working" if len(parent.slices) > 1 else "done")
        return Decision(
            "orders", f"{side.value} {qty:.8g} {asset} in {len(parent.slices)} slice(s)", parent.parent_id,
            children, refusals, target, exposure,
        )  # fmt: skip

    def _lot(self, symbol: str) -> float:
        incs = [r[symbol].amount_increment for r in self.rules.values() if symbol in r]
        return float(max(incs)) if incs else 1e-8

    def _new_parent(self, body, asset, side, qty, target, ref, lot) -> ParentOrder:
        return new_parent(
            f"P{sm.new_client_order_id()}", body, asset, side.value, qty, target, ref, lot, self.cfg.routing,
            self.cfg.risk.max_order_notional, time.time(),
        )  # fmt: skip

    def _route_slice(self, parent: ParentOrder, k: int, ref: float) -> tuple[list[ChildOrder], list[Refusal]]:
        """Route slice ``k`` of ``parent`` into child orders (not yet registered or journaled)."""
        t0 = time.perf_counter()
        asset = parent.asset
        symbol = self.assets[asset].pair
        side = Side(parent.side)
        qty = float(parent.slices[k])
        trading = [n for n, rules in self.rules.items() if symbol in rules]
        venues = self.risk.venues_with_capacity(trading)
        if not venues:
            return [], [Refusal("rate_limit", f"every venue for {symbol} is at its order-rate budget")]
        cex, pools = [], []
        for name in venues:
            fee = float(self.rules[name][symbol].taker_fee)
            if self.venues[name].kind == "amm":
                p = self.market.pool(name, symbol)
                if p is not None and p.concentrated is not None:  # a V3 pool: priced across its ticks
                    pools.append(p.concentrated)
                elif p is not None:
                    pools.append(PoolInput(name, p.base_reserve, p.quote_reserve, p.fee, p.gas_quote,
                                           self.cfg.routing.max_pool_fraction))  # fmt: skip
            else:
                b = self.market.book(name, symbol)
                if b is not None:
                    cex.append(CexInput(name, b.asks if side is Side.BUY else b.bids, fee))
        if not cex and not pools:
            return [], [Refusal("stale_book", f"no fresh book or pool for {symbol}")]
        band = self.cfg.risk.price_band_bps / 1e4
        limit = ref * (1 + band) if side is Side.BUY else ref * (1 - band)
        lot = self._lot(symbol)
        plan = route(side, qty, cex, pools, lot=lot, limit_price=limit)
        self.metrics.observe("route", time.perf_counter() - t0)
        refusals: list[Refusal] = []
        if plan.amount <= 0:
            return [], [
                Refusal(
                    "no_liquidity", f"no liquidity for {symbol} within {self.cfg.risk.price_band_bps} bps"
                )
            ]
        if plan.amount < qty - lot / 2:
            refusals.append(Refusal("insufficient_liquidity", f"only {plan.amount:.8g} of {qty:.8g} {asset} within the band"))  # fmt: skip
        children = []
        slip = self.cfg.routing.slippage_bps / 1e4
        for leg in plan.legs:
            rules = self.rules[leg.venue][symbol]
            amount = _dec(leg.amount).quantize(rules.amount_increment, rounding=ROUND_DOWN)
            px = leg.worst_price * (1 + slip if side is Side.BUY else 1 - slip)
            px = min(px, ref * (1 + band)) if side is Side.BUY else max(px, ref * (1 - band))
            limit_px = _dec(px).quantize(
                rules.price_increment, rounding=ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
            )
            refusal = self.risk.check_child(leg.venue, float(amount), float(limit_px), ref)
            if refusal is not None:
                refusals.append(refusal)
                continue
            self.risk.spend(leg.venue)
            order, _ = sm.create(
                client_order_id=sm.new_client_order_id(), parent_id=parent.parent_id,
                intent_key=f"{parent.parent_id}:{k}:{leg.venue}", venue=leg.venue, symbol=symbol, asset=asset,
                side=side, amount=amount, limit_price=limit_px, time_in_force=TimeInForce.IOC,
                signal_id=parent.signal_id, model_tag=parent.model_tag,
                prediction_id=parent.prediction_id,
            )  # fmt: skip
            children.append(order)
        return children, refusals

    def _set_status(self, parent: ParentOrder, status: str) -> None:
        parent.status = status
        if status == "working":
            self.working[parent.parent_id] = parent
        else:
            self.working.pop(parent.parent_id, None)

    # --- slices ----------------------------------------------------------------------------------
    async def _slice_loop(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            for parent in list(self.working.values()):
                if parent.status == "working":
                    try:
                        await self._next_slice(parent)
                    except Exception:
                        log.exception("slice of %s failed", parent.parent_id)

    async def _next_slice(self, parent: ParentOrder) -> None:
        k = parent.next_slice
        if parent.finished():
            self._set_status(parent, "done")
            await self.journal.write([self.journal.parent(parent)])
            return
        mine = self.oms.by_parent.get(parent.parent_id, [])
        if not parent.due(time.time(), any(o.live for o in mine)):
            return  # an iceberg shows its next piece once the last one is done; a TWAP waits its turn
        symbol = self.assets[parent.asset].pair
        ref = self.market.reference_price(symbol)
        statements = []
        exposure = self.exposure(parent.asset)
        sign = parent.sign
        refusal = None
        if ref is not None:
            # the slice is already counted in the exposure; check the position it leads to
            refusal = self.risk.check_parent(self.killswitch, exposure - sign * float(parent.slices[k]),
                                             sign * float(parent.slices[k]), ref, self.daily_pnl())  # fmt: skip
        children, refusals = ([], [refusal]) if refusal else self._route_slice(parent, k, ref) if ref else ([], [Refusal("no_reference_price", symbol)])  # fmt: skip
        parent.advance(time.time(), self.cfg.routing.twap_interval_s)
        if refusal is not None and refusal.reason == "kill_switch":
            self._set_status(parent, "cancelled")
        elif parent.finished():
            self._set_status(parent, "done")
        for r in refusals:
            statements.append(self.journal.refusal(r.reason, r.detail, parent.asset, parent.signal_id, parent.parent_id))  # fmt: skip
            self._refuse(r)
        statements.append(self.journal.parent(parent))
        for order in children:
            self.oms.register(order)
            statements.extend(self.oms.created_and_submitted(order))
        await self.journal.write(statements)
        for order in children:
            self.oms.spawn(self.oms.send(order))

    async def journal_rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read that sees every state already answered (the venues' acks queued behind)."""
        await self.journal.settled()
        return await asyncio.to_thread(self.journal.query, sql, params)

    # --- commands --------------------------------------------------------------------------------
    async def set_kill_switch(self, state: SwitchState, reason: str, cancel_open: bool) -> None:
        self.killswitch.set(state, reason)
        self.metrics.switch.labels(state.value).set(1)
        for other in SwitchState:
            if other is not state:
                self.metrics.switch.labels(other.value).set(0)
        statements = [
            self.journal.setting("kill_switch", json.dumps({"state": state.value, "reason": reason}))
        ]
        if state is SwitchState.HALTED:
            for parent in list(self.working.values()):
                if parent.status == "working":
                    self._set_status(parent, "cancelled")
                    statements.append(self.journal.parent(parent))
        await self.journal.write(statements)
        self.alerts.kill_switch(state, reason)
        if cancel_open:
            await self.cancel_all("kill switch: cancel open orders")

    async def set_risk_limits(self, changes: dict[str, float]) -> ExecutionRisk:
        """Change pre-trade limits now (journaled and audited; kept across restarts). Raises ValueError."""
        limits = ExecutionRisk(**{**self.cfg.risk.model_dump(), **changes})
        await self.journal.write([self.journal.setting("risk_limits", limits.model_dump_json())])
        self.cfg = self.cfg.model_copy(update={"risk": limits})
        if self.risk is not None:
            self.risk.limits = limits
        return limits

    async def cancel(self, client_order_id: str) -> ChildOrder:
        order = self.oms.orders[client_order_id]
        return await self.oms.cancel(order)

    async def cancel_all(self, reason: str = "cancel all") -> int:
        live = [o for o in self.oms.orders.values() if o.live]
        await asyncio.gather(*(self.oms.cancel(o, reason) for o in live))
        return len(live)


def _dec(x: float | Decimal) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def order_view(o: ChildOrder) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "parent_id": o.parent_id,
        "venue": o.venue,
        "symbol": o.symbol,
        "side": o.side.value,
        "amount": o.amount,
        "limit_price": o.limit_price,
        "state": o.state.value,
        "filled": o.filled,
        "average_price": o.average_price,
        "fees": o.fees,
        "venue_order_id": o.venue_order_id,
        "reason": o.reason,
        "signal_id": o.signal_id,
        "model_tag": o.model_tag,
        "prediction_id": o.prediction_id,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }
