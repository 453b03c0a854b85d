"""The desk: several accounts in one process. A signal goes to the strategy it belongs to, is sized
for that strategy's book, checked against the account's rules, and fans out to every follower of
the strategy (or of its account), each sized by its allocation rule and checked against its own
limits. One follower's refusal is its own row: it never blocks the leader or another follower.

Synchronous and pure in time: ``now`` and the marks come in, orders and refusals come out, and
:meth:`Desk.statements` makes the journal unit that records them, every row with its account.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Any

from execution import sizing
from execution.accounts import allocation, performance, rules
from execution.accounts import journal as aj
from execution.accounts.books import AccountState, LiveOrder
from execution.journal import Journal, Statement
from execution.orders import new_client_order_id
from execution.venues.base import MarketRules, Side, VenueFill
from kimera.config import (
    CopySubscription,
    ExecutionAccount,
    ExecutionConfig,
    ExecutionSizing,
    ExecutionStrategy,
)
from kimera.settings import Settings


class UnknownStrategy(ValueError):
    """A signal that names no configured strategy (the message lists the strategies)."""


class ForeignAccount(PermissionError):
    """An API key bound to one account signalled a strategy of another."""


@dataclass
class AccountDecision:
    """What one account did with one signal: an order, a refusal, or no change."""

    account: str
    book: str
    strategy: str
    signal_id: str
    leader_signal_id: str | None  # set on a follower's copy: the leader's signal it traces to
    asset: str
    outcome: str  # orders | no_change | refused
    detail: str
    target: float
    order: LiveOrder | None = None
    refusal: rules.RuleRefusal | None = None
    reference_price: float = 0.0


@dataclass
class FanOut:
    signal_id: str
    strategy: str
    at: float
    decisions: list[AccountDecision] = field(default_factory=list)

    @property
    def orders(self) -> list[LiveOrder]:
        return [d.order for d in self.decisions if d.order is not None]

    @property
    def refused(self) -> list[AccountDecision]:
        return [d for d in self.decisions if d.refusal is not None]


class Desk:
    """Accounts, strategies and followers of ``execution`` config; see the module docstring."""

    def __init__(
        self,
        config: ExecutionConfig,
        market_rules: dict[str, MarketRules],
        pairs: dict[str, str],
        settings: Settings | None = None,
    ):
        self.config = config
        self.settings = settings
        self.market_rules = market_rules  # symbol -> rules (increments)
        self.pairs = pairs  # asset -> symbol
        accounts = config.accounts or [
            ExecutionAccount(name="default", capital=config.sizing.capital, risk=config.risk)
        ]
        self.accounts = {a.name: AccountState(a) for a in accounts}
        self.account_list = list(self.accounts.values())
        strategies = config.strategies or [
            ExecutionStrategy(name="default", account=accounts[0].name, sizing=config.sizing)
        ]
        self.strategies = {s.name: s for s in strategies}
        self._sizing: dict[str, ExecutionSizing] = {
            s.name: s.sizing.model_copy(update={"capital": self._strategy_capital(s)}) for s in strategies
        }
        self.followers: dict[tuple[str, str], list[CopySubscription]] = {}
        for sub in config.followers:
            self.followers.setdefault((sub.leader_kind, sub.leader), []).append(sub)
        self.order_account: dict[str, str] = {}
        # every live order of every account by (symbol, side): the self-trade check reads one side
        self.resting: dict[tuple[str, Side], dict[str, LiveOrder]] = {}
        self.keys = {k: a.name for a in accounts for k in a.api_keys}
        self.new_order_id: Callable[[], str] = new_client_order_id  # the service names them as its parents
        self._kill_switch: Callable[[bool], str | None] | None = None

    def _strategy_capital(self, s: ExecutionStrategy) -> float:
        return self.accounts[s.account].config.capital * s.capital_share

    def book_capital(self, account: str, book: str) -> float:
        """The capital a book sizes to: its strategy's share, or the copy's allocation."""
        if book.startswith("copy:"):
            for sub in self.config.followers:
                if sub.follower == account and sub.leader == book[5:]:
                    return allocation.book_capital(sub, self.accounts[account].config.capital)
            return self.accounts[account].config.capital
        s = self.strategies.get(book)
        return self._strategy_capital(s) if s is not None else self.accounts[account].config.capital

    def track(self, order: LiveOrder) -> None:
        """Count ``order`` as live for its account (exposure, self-trade checks)."""
        self.accounts[order.account].live[order.client_order_id] = order
        self.order_account[order.client_order_id] = order.account
        self.resting.setdefault((order.symbol, order.side), {})[order.client_order_id] = order

    # --- who is who ------------------------------------------------------------------------------
    def strategy_for(self, body: dict[str, Any]) -> ExecutionStrategy:
        """The strategy a signal belongs to: named by ``strategy`` (which must trade its asset), else
        the first whose model tag prefix, horizon and asset filter match."""
        name = body.get("strategy")
        if name is not None:
            if name not in self.strategies:
                raise UnknownStrategy(
                    f"strategy {name!r} is not configured; strategies: {sorted(self.strategies)}"
                )
            named = self.strategies[name]
            if named.assets is not None and body.get("asset") not in named.assets:
                raise UnknownStrategy(
                    f"strategy {name!r} trades only {named.assets}, not {body.get('asset')!r}"
                )
            return named
        for s in self.strategies.values():
            if (
                (s.model_tag is None or str(body.get("model_tag", "")).startswith(s.model_tag))
                and (s.horizon is None or s.horizon == body.get("horizon"))
                and (s.assets is None or body.get("asset") in s.assets)
            ):
                return s
        raise UnknownStrategy(
            f"no strategy takes model_tag {body.get('model_tag')!r} horizon {body.get('horizon')!r} "
            f"asset {body.get('asset')!r}; "
            f"strategies: {sorted(self.strategies)}"
        )

    def account_for_key(self, key_id: str) -> str | None:
        """The account an API key acts for (the implicit default account takes every key)."""
        if not self.config.accounts:
            return "default"
        return self.keys.get(key_id)

    def check_key(self, key_id: str | None, strategy: ExecutionStrategy) -> None:
        """A key listed under an account acts for that account only; a key listed under none (the
        operator's, the signals push's) acts for every account."""
        bound = self.keys.get(key_id) if key_id is not None else None
        if bound is not None and bound != strategy.account:
            raise ForeignAccount(
                f"API key {key_id!r} acts for account {bound!r}; strategy {strategy.name!r} trades account {strategy.account!r}"
            )

    def credentials(self, account: str) -> dict[str, Any]:
        """The account's venue credentials as ``SecretStr`` (``<prefix>_api_key``, ``<prefix>_secret``)."""
        prefix = self.accounts[account].config.credentials
        if prefix is None or self.settings is None:
            return {}
        return {k: self.settings.secret(f"{prefix}_{k}") for k in ("api_key", "secret")}

    # --- decisions -------------------------------------------------------------------------------
    def decide(
        self,
        body: dict[str, Any],
        marks: dict[str, float],
        now: float,
        kill_switch: Callable[[bool], str | None] | None = None,
    ) -> FanOut:
        """Decide a signal for its strategy's account and every follower; registers the orders.

        ``kill_switch(reducing)`` (the service's switch) returns the sentence that refuses an order.
        """
        strategy = self.strategy_for(body)
        asset = body["asset"]
        ref = marks[asset]
        sid = body["signal_id"]
        fan = FanOut(sid, strategy.name, now)
        self._kill_switch = kill_switch
        leader = self.accounts[strategy.account]
        capital = self._strategy_capital(strategy)
        limit = leader.config.risk.max_position_notional
        target = sizing.target_notional(
            float(body["forecast"]),
            float(body["lower"]),
            float(body["upper"]),
            self._sizing[strategy.name],
            limit,
        )
        self._decide_book(fan, leader, strategy.name, capital, target, strategy, asset, ref, marks, None, strategy.sizing.min_order_notional)  # fmt: skip
        leader.books[strategy.name].targets[asset] = target
        own = [b for b in leader.books.values() if not b.name.startswith("copy:")]
        account_target = sum(b.targets.get(asset, 0.0) for b in own)
        subs = self.followers.get(("strategy", strategy.name), []) + self.followers.get(
            ("account", leader.name), []
        )
        for sub in subs:
            f = self.accounts[sub.follower]
            lead = target if sub.leader_kind == "strategy" else account_target
            lead_capital = capital if sub.leader_kind == "strategy" else leader.config.capital
            f_limit = f.config.risk.max_position_notional
            f_pnl = f.pnl(marks)  # once per follower: its equity and today's P&L both need it
            f_target = allocation.follower_target(
                sub, lead / lead_capital, lead / limit, f.config.capital + f_pnl, f_limit
            )
            self._decide_book(
                fan, f, f"copy:{sub.leader}", allocation.book_capital(sub, f.config.capital), f_target,
                strategy, asset, ref, marks, sid, self.config.sizing.min_order_notional, f_pnl,
            )  # fmt: skip
        return fan

    def _decide_book(
        self, fan: FanOut, account: AccountState, book_name: str, capital: float, target: float,
        strategy: ExecutionStrategy, asset: str, ref: float, marks: dict[str, float],
        leader_signal_id: str | None, min_notional: float, pnl: float | None = None,
    ) -> None:  # fmt: skip
        d = AccountDecision(account.name, book_name, strategy.name, fan.signal_id, leader_signal_id, asset,
                            "no_change", "", target, reference_price=ref)  # fmt: skip
        fan.decisions.append(d)
        account.book(book_name, capital)
        refusal = rules.take_message(account, fan.at)
        if refusal is not None:
            d.outcome, d.detail, d.refusal = "refused", refusal.detail, refusal
            return
        symbol = self.pairs[asset]
        mr = self.market_rules[symbol]
        lot = float(mr.amount_increment)
        delta = target / ref - account.book_exposure(book_name, asset)
        side = Side.BUY if delta > 0 else Side.SELL
        slip = self.config.routing.slippage_bps / 1e4
        px = Decimal(repr(ref * (1 + slip if side is Side.BUY else 1 - slip))).quantize(
            mr.price_increment, rounding=ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        )
        # an order never goes beyond the account's per-order notional: the next signal trades the rest
        most = account.config.risk.max_order_notional / float(px)
        qty = math.floor(min(abs(delta), most) / lot + 1e-9) * lot
        if qty <= 0 or qty * ref < min_notional:
            d.detail = f"target {target / ref:.8g} vs book exposure {target / ref - delta:.8g}"
            return
        proposed = rules.Proposed(account.name, asset, symbol, side, qty, float(px), ref)
        opposite = self.resting.get((symbol, Side.SELL if side is Side.BUY else Side.BUY), {})
        refusal = rules.check(proposed, account, opposite.values(), self.config.compliance, marks,
                              account.daily_pnl(marks, fan.at, pnl), fan.at, self._kill_switch)  # fmt: skip
        if refusal is not None:
            d.outcome, d.detail, d.refusal = "refused", refusal.detail, refusal
            return
        rules.spend_order(account)
        amount = Decimal(repr(qty)).quantize(mr.amount_increment, rounding=ROUND_DOWN)
        order = LiveOrder(self.new_order_id(), account.name, book_name, asset, symbol, side, amount, px)
        account.live[order.client_order_id] = order
        self.resting.setdefault((symbol, side), {})[order.client_order_id] = order
        self.order_account[order.client_order_id] = account.name
        d.outcome, d.detail, d.order = "orders", f"{side.value} {amount} {asset}", order

    # --- journal ---------------------------------------------------------------------------------
    def statements(self, fan: FanOut, journal: Journal) -> list[Statement]:
        """The journal unit for a fan-out: a row per account decision, order and refusal."""
        out: list[Statement] = []
        for d in fan.decisions:
            out.append((aj.SIGNAL_SQL, (d.signal_id, d.account, d.book, d.strategy, d.leader_signal_id, d.asset,
                                        d.outcome, d.detail, aj.money(journal, d.target), fan.at)))  # fmt: skip
            if d.order is not None:
                o = d.order
                out.append((aj.ORDER_SQL, (o.client_order_id, o.account, o.book, d.strategy, d.signal_id,
                                           d.leader_signal_id, o.asset, o.symbol, o.side.value,
                                           aj.money(journal, o.amount), aj.money(journal, o.limit_price),
                                           d.reference_price, fan.at)))  # fmt: skip
            if d.refusal is not None:
                out.append((aj.REFUSAL_SQL, (fan.at, d.account, d.book, d.refusal.rule, d.refusal.detail,
                                             d.asset, d.signal_id, d.leader_signal_id)))  # fmt: skip
        return out

    # --- fills and marks -------------------------------------------------------------------------
    def on_fill(self, fill: VenueFill, journal: Journal) -> Statement | None:
        """Book a fill into its account and book; the journal row for it (None: not our order)."""
        name = self.order_account.get(fill.client_order_id)
        if name is None:
            return None
        order = self.accounts[name].apply_fill(fill)
        if order is not None and order.remaining <= 0:
            self.resting.get((order.symbol, order.side), {}).pop(order.client_order_id, None)
        return (aj.FILL_SQL, (fill.venue, fill.fill_id, fill.client_order_id, name, fill.symbol, fill.side.value,
                              aj.money(journal, fill.price), aj.money(journal, fill.amount),
                              aj.money(journal, fill.fee), fill.timestamp))  # fmt: skip

    def order_done(self, client_order_id: str) -> None:
        """The venue finished the order (filled, or an IOC remainder cancelled): it no longer rests."""
        name = self.order_account.get(client_order_id)
        if name is not None:
            order = self.accounts[name].live.pop(client_order_id, None)
            if order is not None:
                self.resting.get((order.symbol, order.side), {}).pop(client_order_id, None)

    def mark(self, marks: dict[str, float], now: float) -> None:
        """Mark every account and book to ``marks`` at ``now``: equity, high-water mark, drawdown state."""
        for account in self.account_list:
            account.mark(marks, now)

    # --- status ----------------------------------------------------------------------------------
    def summary(self, marks: dict[str, float]) -> dict[str, Any]:
        """Per account, strategy and follower: equity, return, Sharpe, drawdown, state, tracking error."""
        out: dict[str, Any] = {"accounts": {}, "strategies": {}, "followers": []}
        for a in self.account_list:
            out["accounts"][a.name] = {
                **performance.figures(a.equity_history), "state": a.state.value, "high_water": a.high_water,
                "pnl": a.pnl(marks), "books": sorted(a.books), "positions": a.positions(),
            }  # fmt: skip
        for s in self.strategies.values():
            book = self.accounts[s.account].books.get(s.name)
            out["strategies"][s.name] = {
                "account": s.account,
                **performance.figures(book.equity_history if book else []),
            }
        for sub in self.config.followers:
            book = self.accounts[sub.follower].books.get(f"copy:{sub.leader}")
            mine = book.equity_history if book else []
            if sub.leader_kind == "strategy":
                s = self.strategies[sub.leader]
                lead_book = self.accounts[s.account].books.get(s.name)
                lead = lead_book.equity_history if lead_book else []
            else:
                lead = self.accounts[sub.leader].equity_history
            out["followers"].append({
                "follower": sub.follower, "leader": sub.leader, "leader_kind": sub.leader_kind, "rule": sub.rule,
                **performance.figures(mine), "tracking_error": performance.tracking_error(mine, lead),
            })  # fmt: skip
        return out
