"""The execution service's accounts: when ``execution`` configures accounts, strategies or followers,
each signal is decided by the :class:`~execution.accounts.desk.Desk` (every account it reaches, with
its own limits and compliance), and each account order becomes a parent order that the service routes,
journals and sends like its own. Parent id = the account order's id, so a venue order traces to its
account, strategy and leader signal through ``account_orders``.

On start-up the accounts' books are rebuilt from the journal: account orders, the service's fills of
their child orders, the last targets, and each account's high-water mark and day mark.
"""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from execution import orders as sm
from execution.accounts import journal as aj
from execution.accounts.books import LiveOrder, TradingState
from execution.accounts.desk import Desk
from execution.orders import ChildOrder
from execution.risk import Refusal
from execution.slicing import new_parent
from execution.venues.base import MarketRules, Side, VenueFill
from kimera.config import ExecutionConfig

if TYPE_CHECKING:
    from execution.service import Decision, ExecutionService


def wanted(cfg: ExecutionConfig) -> bool:
    """Whether the config asks for the accounts layer (else the service trades one implicit account)."""
    return bool(cfg.accounts or cfg.strategies or cfg.followers)


class AccountsBridge:
    def __init__(self, service: ExecutionService):
        self.service = service
        rules: dict[str, MarketRules] = {}
        for venue_rules in service.rules.values():
            for symbol, r in venue_rules.items():  # the coarsest lot, as the service's router uses
                if symbol not in rules or r.amount_increment > rules[symbol].amount_increment:
                    rules[symbol] = r
        pairs = {a: asset.pair for a, asset in service.assets.items() if asset.pair in rules}
        self.desk = Desk(service.cfg, rules, pairs, service.settings)
        self.desk.new_order_id = lambda: f"P{sm.new_client_order_id()}"

    # --- start-up --------------------------------------------------------------------------------
    def restore(self) -> None:
        """Create the accounts' tables and rebuild every book, live order and mark from the journal."""
        journal, desk = self.service.journal, self.desk
        aj.create_tables(journal)
        for cid, account, book, asset, symbol, side, amount, limit in journal.query(
            "SELECT client_order_id, account, book, asset, symbol, side, amount, limit_price FROM account_orders"
        ):
            if account not in desk.accounts:
                continue  # an account since removed from the config keeps its rows, not its book
            desk.accounts[account].book(book, desk.book_capital(account, book))
            desk.track(
                LiveOrder(
                    cid, account, book, asset, symbol, Side(side), Decimal(str(amount)), Decimal(str(limit))
                )
            )
        rows = journal.query(
            """SELECT f.venue, f.fill_id, o.parent_id, f.symbol, f.side, f.price, f.amount, f.fee, f.at
               FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id
               JOIN account_orders a ON a.client_order_id = o.parent_id ORDER BY f.at, f.venue, f.fill_id"""
        )
        missing = []
        for v, fid, pid, symbol, side, price, amount, fee, at in rows:
            fill = VenueFill(v, fid, pid, symbol, Side(side), Decimal(str(price)), Decimal(str(amount)), Decimal(str(fee)), at)  # fmt: skip
            row = desk.on_fill(fill, journal)
            if row is not None:
                missing.append(row)  # ON CONFLICT DO NOTHING: rows a crash lost come back
        for account, book, asset, target in journal.query(
            "SELECT account, book, asset, target FROM account_signals WHERE target IS NOT NULL ORDER BY at"
        ):
            if account in desk.accounts and book in desk.accounts[account].books:
                desk.accounts[account].books[book].targets[asset] = float(target)
        for key, value in journal.query("SELECT key, value FROM settings WHERE key LIKE 'account_mark:%'"):
            state = desk.accounts.get(key.split(":", 1)[1])
            if state is not None:
                saved = json.loads(value)
                state.high_water, state.state = saved["high_water"], TradingState(saved["state"])
                state.day, state.day_start_pnl = saved["day"], saved["day_start_pnl"]
        if missing:
            journal.submit(missing).result()
        self.sync()

    def sync(self) -> None:
        """Retire account orders whose parent is done and has no live child (the rest was cancelled)."""
        svc = self.service
        for account in self.desk.account_list:
            for pid in list(account.live):
                parent = svc.parents.get(pid)
                children = svc.oms.by_parent.get(pid, [])
                if parent is None or (parent.status != "working" and not any(c.live for c in children)):
                    self.desk.order_done(pid)

    # --- decisions -------------------------------------------------------------------------------
    def decide(self, body: dict[str, Any], key_id: str | None = None) -> tuple[Decision, list]:
        """The service's decision for a signal over every account it reaches, and the journal rows
        of the accounts' partition (the caller journals them in the signal's unit). Raises
        ``ForeignAccount`` when ``key_id`` acts for another account than the signal's strategy."""
        from execution.service import Decision

        svc, desk, journal = self.service, self.desk, self.service.journal
        desk.check_key(key_id, desk.strategy_for(body))
        now = time.time()
        self.sync()
        marks = {}
        for asset, symbol in desk.pairs.items():
            ref = svc.market.reference_price(symbol)
            if ref is not None:
                marks[asset] = ref
        if body["asset"] not in marks:
            r = Refusal(
                "no_reference_price",
                f"no fresh order book for {desk.pairs.get(body['asset'], body['asset'])}",
            )
            return Decision("refused", r.detail, refusals=[r]), []
        # Performance is marked on the market's clock (the bar the signal was made at), not the
        # wall's: a replayed or accelerated day would otherwise annualise marks seconds apart.
        desk.mark(marks, _market_time(body.get("feature_time"), now))

        def kill_switch(reducing: bool) -> str | None:
            if svc.killswitch.allows(reducing):
                return None
            return (
                f"kill switch is {svc.killswitch.state.value}: {svc.killswitch.reason or 'no reason given'}"
            )

        fan = desk.decide(body, marks, now, kill_switch)
        ref = marks[body["asset"]]
        statements = desk.statements(fan, journal)
        orders: list[ChildOrder] = []
        refusals: list[Refusal] = []
        lead_parent = None
        for d in fan.decisions:
            if d.refusal is not None:
                refusals.append(Refusal(d.refusal.rule, f"{d.account}: {d.refusal.detail}"))
            if d.order is None:
                continue
            o = d.order
            parent = new_parent(o.client_order_id, body, o.asset, o.side.value, float(o.amount), d.target / ref, ref,
                                svc._lot(o.symbol), svc.cfg.routing, svc.cfg.risk.max_order_notional, now)  # fmt: skip
            children, routed = svc._route_slice(parent, 0, ref)
            for r in routed:
                refusals.append(Refusal(r.reason, f"{d.account}: {r.detail}"))
                statements.append((aj.REFUSAL_SQL, (now, d.account, d.book, r.reason, r.detail, d.asset, d.signal_id, d.leader_signal_id)))  # fmt: skip
            if not children:
                desk.order_done(o.client_order_id)
                continue
            parent.next_slice = 1
            svc.parents[parent.parent_id] = parent
            svc._set_status(parent, "working" if len(parent.slices) > 1 else "done")
            orders.extend(children)
            if d.leader_signal_id is None and lead_parent is None:
                lead_parent = parent.parent_id  # the service journals the decision's own parent
            else:
                statements.append(journal.parent(parent))
        for account in {d.account for d in fan.decisions}:
            state = desk.accounts[account]
            mark = {"high_water": state.high_water, "state": state.state.value, "day": state.day,
                    "day_start_pnl": state.day_start_pnl}  # fmt: skip
            statements.append(journal.setting(f"account_mark:{account}", json.dumps(mark)))
        lead = fan.decisions[0]
        outcome = "orders" if orders else "refused" if refusals else "no_change"
        counts = {k: sum(d.outcome == k for d in fan.decisions) for k in ("orders", "no_change", "refused")}
        detail = (
            f"strategy {fan.strategy} ({lead.account}): {lead.outcome} {lead.detail}; accounts: "
            + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        )
        decision = Decision(outcome, detail, lead_parent, orders, refusals, lead.target / ref, None)
        decision.accounts = [
            {"account": d.account, "book": d.book, "outcome": d.outcome, "detail": d.detail,
             "parent_id": d.order.client_order_id if d.order else None, "rule": d.refusal.rule if d.refusal else None}
            for d in fan.decisions
        ]  # fmt: skip
        return decision, statements

    def forget(self, decision: Decision) -> None:
        """A decision whose journal unit failed never happened: drop its parents and account orders."""
        for row in decision.accounts or []:
            pid = row["parent_id"]
            if pid is not None:
                self.service.parents.pop(pid, None)
                self.service.working.pop(pid, None)
                self.desk.order_done(pid)

    def on_fill(self, order: ChildOrder, fill: VenueFill) -> None:
        """Book a child order's fill into its account (its row joins the journal's next group)."""
        if order.parent_id not in self.desk.order_account:
            return
        row = self.desk.on_fill(
            dataclasses.replace(fill, client_order_id=order.parent_id), self.service.journal
        )
        if row is not None:
            self.service.journal.submit([row])  # the service's own fill row is already durable

    def summary(self) -> dict[str, Any]:
        """Per account, strategy and follower figures (see :meth:`Desk.summary`), marked now."""
        svc = self.service
        marks = {a: r for a, s in self.desk.pairs.items() if (r := svc.market.reference_price(s)) is not None}
        return self.desk.summary(marks)


def _market_time(feature_time: Any, fallback: float) -> float:
    """The signal's bar time as epoch seconds (ISO 8601 text or a datetime); ``fallback`` without one."""
    from datetime import UTC, datetime

    if isinstance(feature_time, str):
        try:
            feature_time = datetime.fromisoformat(feature_time.replace("Z", "+00:00"))
        except ValueError:
            return fallback
    if isinstance(feature_time, datetime):
        if feature_time.tzinfo is None:
            feature_time = feature_time.replace(tzinfo=UTC)
        return feature_time.timestamp()
    return fallback
