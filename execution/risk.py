"""Pre-trade risk: limits every new order must pass. A refusal carries a reason code and a sentence."""

from __future__ import annotations

import time
from dataclasses import dataclass

from execution.killswitch import KillSwitch
from kimera.config import ExecutionRisk


@dataclass(frozen=True)
class Refusal:
    reason: str  # kill_switch, daily_loss, max_position, max_order_notional, price_band, rate_limit, ...
    detail: str


class TokenBucket:
    """``rate`` orders per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.tokens = self.burst
        self.at = time.monotonic()

    def available(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens

    def take(self) -> None:
        self.tokens -= 1.0


class PreTradeRisk:
    """The limits of ``kimera.yaml: execution.risk`` and a rate budget per venue."""

    def __init__(self, limits: ExecutionRisk, published_rates: dict[str, float]):
        self.limits = limits
        self.buckets = {v: TokenBucket(r * limits.rate_limit_headroom) for v, r in published_rates.items()}

    def check_parent(
        self,
        killswitch: KillSwitch,
        exposure: float,
        signed_qty: float,
        reference_price: float,
        daily_pnl: float,
    ) -> Refusal | None:
        """Checks on a whole decision: kill switch, daily loss, position limit."""
        after = round(exposure + signed_qty, 12)  # float dust must not flip a flat position's sign
        reducing = abs(after) < abs(exposure) - 1e-12 and exposure * after >= 0
        if not killswitch.allows(reducing):
            return Refusal(
                "kill_switch",
                f"kill switch is {killswitch.state.value}: {killswitch.reason or 'no reason given'}",
            )
        if daily_pnl < -self.limits.daily_loss_limit and not reducing:
            return Refusal(
                "daily_loss",
                f"daily P&L {daily_pnl:,.2f} is beyond the loss limit -{self.limits.daily_loss_limit:,.2f}; "
                "only reducing orders pass",
            )
        limit = self.limits.max_position_notional
        if abs(after) * reference_price > limit * (1 + 1e-9) and not reducing:
            return Refusal(
                "max_position",
                f"position would be {after:.8g} ({abs(after) * reference_price:,.2f} quote), "
                f"beyond max_position_notional {limit:,.2f}",
            )
        return None

    def check_child(
        self, venue: str, amount: float, limit_price: float, reference_price: float
    ) -> Refusal | None:
        """Checks on one venue order: notional and price band."""
        notional = amount * limit_price
        if notional > self.limits.max_order_notional:
            return Refusal(
                "max_order_notional",
                f"{venue}: order notional {notional:,.2f} beyond max_order_notional {self.limits.max_order_notional:,.2f}",
            )
        band = abs(limit_price / reference_price - 1) * 1e4
        if band > self.limits.price_band_bps:
            return Refusal(
                "price_band",
                f"{venue}: limit price {limit_price:.8g} is {band:.1f} bps from the reference {reference_price:.8g}; "
                f"the band is {self.limits.price_band_bps} bps",
            )
        return None

    def venues_with_capacity(self, venues: list[str]) -> list[str]:
        now = time.monotonic()
        return [v for v in venues if v not in self.buckets or self.buckets[v].available(now) >= 1.0]

    def spend(self, venue: str) -> None:
        if venue in self.buckets:
            self.buckets[venue].take()
