"""The checks every account order passes: compliance (restricted list, self-trade, order and message
rates, daily loss stop), the account's trading state, per-order risk, and portfolio-level exposure
(gross, net, correlation-aware). Each refusal names its rule; see docs/accounts.md."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from execution.accounts.books import AccountState, LiveOrder, TradingState
from execution.risk import TokenBucket
from execution.venues.base import Side
from kimera.config import ComplianceConfig


@dataclass(frozen=True)
class Proposed:
    """An order an account is about to send."""

    account: str
    asset: str
    symbol: str
    side: Side
    amount: float
    limit_price: float
    reference_price: float


@dataclass(frozen=True)
class RuleRefusal:
    rule: str  # restricted_instrument, self_trade, order_rate, message_rate, daily_loss_stop, ...
    detail: str


def _bucket(account: AccountState, attr: str, rate: float, now: float) -> TokenBucket:
    """The account's token bucket ``attr`` at ``rate`` per second, made on first use on the injected clock."""
    bucket = getattr(account, attr)
    if bucket is None:
        bucket = TokenBucket(rate, max(1.0, rate))
        bucket.at = now
        setattr(account, attr, bucket)
    return bucket


def take_message(account: AccountState, now: float) -> RuleRefusal | None:
    """Count one message (a decision, order or cancel) against the account's message rate."""
    rate = account.config.compliance.max_messages_per_s
    bucket = _bucket(account, "messages_bucket", rate, now)
    if bucket.available(now) < 1.0:
        return RuleRefusal("message_rate", f"account {account.name}: beyond {rate:g} messages/s")
    bucket.take()
    return None


def _order_budget(account: AccountState, now: float) -> RuleRefusal | None:
    rate = account.config.compliance.max_orders_per_s
    if _bucket(account, "orders_bucket", rate, now).available(now) < 1.0:
        return RuleRefusal("order_rate", f"account {account.name}: beyond {rate:g} orders/s")
    return None


def crosses(order: Proposed, resting: LiveOrder) -> bool:
    """Whether ``order`` would trade against ``resting`` (opposite side, prices that meet)."""
    if resting.symbol != order.symbol or resting.side is order.side or resting.remaining <= 0:
        return False
    if order.side is Side.BUY:
        return order.limit_price >= float(resting.limit_price)
    return order.limit_price <= float(resting.limit_price)


def correlated_notional(notionals: dict[str, float], correlations: dict[str, float], default: float) -> float:
    """sqrt(x' C x): the exposure that counts how the assets move together."""
    assets = list(notionals)
    total = 0.0
    for i, a in enumerate(assets):
        for b in assets[i:]:
            if a == b:
                total += notionals[a] ** 2
                continue
            rho = correlations.get(f"{a}/{b}", correlations.get(f"{b}/{a}", default))
            total += 2 * rho * notionals[a] * notionals[b]
    return math.sqrt(max(total, 0.0))


def check(
    order: Proposed,
    account: AccountState,
    resting: Iterable[LiveOrder],
    compliance: ComplianceConfig,
    marks: dict[str, float],
    daily_pnl: float,
    now: float,
    kill_switch: Callable[[bool], str | None] | None = None,
) -> RuleRefusal | None:
    """The first rule ``order`` breaks, or None. Reducing orders pass the loss and exposure rules.

    ``kill_switch(reducing)`` is the service's switch: the sentence that refuses, or None.
    """
    name = account.name
    if order.asset in compliance.restricted:
        return RuleRefusal(
            "restricted_instrument", f"{order.asset} is on the restricted list {compliance.restricted}"
        )
    signed = order.side.sign * order.amount
    before = account.exposure(order.asset)
    after = before + signed
    reducing = abs(after) < abs(before) - 1e-12 and before * after >= 0
    halted = kill_switch(reducing) if kill_switch is not None else None
    if halted is not None:
        return RuleRefusal("kill_switch", halted)
    if account.state is TradingState.PAUSED:
        return RuleRefusal(
            "drawdown_pause",
            f"account {name} is paused: drawdown from its high-water mark {account.high_water:,.2f}",
        )
    if account.state is TradingState.REDUCE_ONLY and not reducing:
        return RuleRefusal(
            "drawdown_reduce_only",
            f"account {name} is reduce-only: drawdown from its high-water mark {account.high_water:,.2f}",
        )
    stop = account.config.compliance.daily_loss_stop
    if daily_pnl < -stop and not reducing:
        return RuleRefusal(
            "daily_loss_stop",
            f"account {name}: today's P&L {daily_pnl:,.2f} is beyond the stop -{stop:,.2f}; only reducing orders pass",
        )
    for other in resting:  # our accounts' live orders on the other side of this symbol
        if other.account != name and crosses(order, other):
            return RuleRefusal(
                "self_trade",
                f"{order.side.value} {order.symbol} at {order.limit_price:.8g} would cross account "
                f"{other.account}'s resting {other.side.value} at {other.limit_price} ({other.client_order_id})",
            )
    risk = account.config.risk
    ref = order.reference_price
    notional = order.amount * order.limit_price
    if notional > risk.max_order_notional * (1 + 1e-9):
        return RuleRefusal(
            "max_order_notional",
            f"order notional {notional:,.2f} beyond max_order_notional {risk.max_order_notional:,.2f}",
        )
    band = abs(order.limit_price / ref - 1) * 1e4
    if band > risk.price_band_bps:
        return RuleRefusal(
            "price_band",
            f"limit {order.limit_price:.8g} is {band:.1f} bps from the reference {ref:.8g}; the band is {risk.price_band_bps} bps",
        )
    if abs(after) * ref > risk.max_position_notional * (1 + 1e-9) and not reducing:
        return RuleRefusal(
            "max_position",
            f"position in {order.asset} would be {abs(after) * ref:,.2f} quote, beyond max_position_notional {risk.max_position_notional:,.2f}",
        )
    if not reducing:
        refusal = _portfolio(order, account, marks, after)
        if refusal is not None:
            return refusal
    return _order_budget(account, now)


def _portfolio(
    order: Proposed, account: AccountState, marks: dict[str, float], after: float
) -> RuleRefusal | None:
    limits = account.config.portfolio
    notionals = {a: account.exposure(a) * marks.get(a, 0.0) for a in account.assets()}
    notionals[order.asset] = after * order.reference_price
    gross = sum(abs(x) for x in notionals.values())
    if gross > limits.max_gross_notional * (1 + 1e-9):
        return RuleRefusal(
            "gross_exposure", f"gross exposure would be {gross:,.2f}, beyond {limits.max_gross_notional:,.2f}"
        )
    net = abs(sum(notionals.values()))
    if net > limits.max_net_notional * (1 + 1e-9):
        return RuleRefusal(
            "net_exposure", f"net exposure would be {net:,.2f}, beyond {limits.max_net_notional:,.2f}"
        )
    corr = correlated_notional(notionals, limits.correlations, limits.default_correlation)
    if corr > limits.max_correlated_notional * (1 + 1e-9):
        return RuleRefusal(
            "correlated_exposure",
            f"correlation-weighted exposure would be {corr:,.2f}, beyond {limits.max_correlated_notional:,.2f}",
        )
    return None


def spend_order(account: AccountState) -> None:
    """An order passed every rule and goes out: it uses one token of the order rate."""
    if account.orders_bucket is not None:
        account.orders_bucket.take()
