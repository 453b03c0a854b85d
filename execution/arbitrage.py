"""Cross-chain arbitrage: the same asset priced by pools on two chains, both legs traded at once.

Real arbitrageurs hold inventory on every chain and never wait for a bridge in the trade path: they
buy where the asset is cheap and sell where it is dear *simultaneously*, each leg from the
inventory already there. The bridge only matters later, to bring inventory back; so its cost is
charged against the trade (the amount moved must eventually cross back) and its latency goes into
the rebalancing plan, not the trade.

:func:`find_opportunity` searches every ordered pair of pools for the amount that maximises
``proceeds(sell) - cost(buy) - gas(both chains) - bridge(amount)``: with each pool's cost convex in
the amount, that profit is concave, so a ternary search on the lot grid finds its maximum.
:func:`cross_chain_basis` is the price gap between chains itself, :func:`cost_floor_bps` the gap no
trade can pay below; :func:`plan_rebalance` says what
bridge transfers bring inventory back to its targets, what they cost and when they land.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

from execution.amm.concentrated import ConcentratedPoolInput
from execution.router import PoolInput, pool_cost
from execution.venues.base import Side
from kimera.config import ArbitrageConfig, BridgeModel

AnyPool = PoolInput | ConcentratedPoolInput


@dataclass(frozen=True)
class ChainPool:
    """A pool of the asset on one chain, as the router prices it (gas in the quote currency)."""

    chain: str
    pool: AnyPool

    @property
    def mid(self) -> float:
        p = self.pool
        if isinstance(p, ConcentratedPoolInput):
            return p.buy.quote[0] / p.buy.base[0]
        return p.quote_reserve / p.base_reserve


@dataclass(frozen=True)
class Opportunity:
    buy: ChainPool  # where the asset is bought (cheap)
    sell: ChainPool  # where it is sold (dear)
    amount: float  # base
    paid: float  # quote paid on the buy leg, fee included
    received: float  # quote received on the sell leg, fee included
    gas: float  # both legs, quote
    bridge: float  # the bridge charge for moving ``amount`` back, quote

    @property
    def net(self) -> float:
        return self.received - self.paid - self.gas - self.bridge

    @property
    def buy_limit(self) -> float:
        """Average price the buy leg may pay (its own quote; the venue adds its slippage bound)."""
        return self.paid / self.amount

    @property
    def sell_limit(self) -> float:
        return self.received / self.amount


def bridge_cost(bridge: BridgeModel, notional: float) -> float:
    return bridge.fixed_quote + notional * bridge.fee_bps / 1e4


def cross_chain_basis(pools: list[ChainPool]) -> dict[tuple[str, str], float]:
    """``mid(b) / mid(a) - 1`` for every ordered pair of chains: the cross-chain basis feature."""
    return {(a.chain, b.chain): b.mid / a.mid - 1 for a, b in permutations(pools, 2) if a.chain != b.chain}


def gap_bps(buy: ChainPool, sell: ChainPool) -> float:
    """How much dearer ``sell``'s mid is than ``buy``'s, in basis points."""
    return (sell.mid / buy.mid - 1) * 1e4


def cost_floor_bps(buy: ChainPool, sell: ChainPool, config: ArbitrageConfig) -> float:
    """The smallest gap (bp of the notional) that any trade up to ``max_amount`` needs to break even:
    both pools' fees, the bridge's fee, and gas on both chains plus the bridge's fixed charge spread
    over the largest trade. Price impact only adds to it, so a gap below this floor pays at no size."""
    notional = config.max_amount * buy.mid
    fixed = buy.pool.gas_quote + sell.pool.gas_quote + config.bridge.fixed_quote
    return (buy.pool.fee + sell.pool.fee) * 1e4 + config.bridge.fee_bps + fixed / notional * 1e4


def opportunity_at(buy: ChainPool, sell: ChainPool, q: float, bridge: BridgeModel) -> Opportunity:
    """Buying ``q`` on ``buy`` and selling it on ``sell``: what each leg pays and gets, gas and bridge."""
    paid = pool_cost(buy.pool, Side.BUY, q)
    received = -pool_cost(sell.pool, Side.SELL, q)
    gas = buy.pool.gas_quote + sell.pool.gas_quote
    return Opportunity(buy, sell, q, paid, received, gas, bridge_cost(bridge, q * buy.mid))


def find_opportunity(
    pools: list[ChainPool], config: ArbitrageConfig, lot: float = 1e-4
) -> Opportunity | None:
    """The most profitable buy-here, sell-there pair across chains, net of fees, gas on both chains and
    the bridge; None when nothing clears ``min_net_quote``."""
    best: Opportunity | None = None
    for buy, sell in permutations(pools, 2):
        if buy.chain == sell.chain or sell.mid <= buy.mid:
            continue
        lo, hi = 1, max(1, int(config.max_amount / lot))
        while hi - lo > 2:  # ternary search on lots: the profit is concave in the amount
            m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
            if (
                opportunity_at(buy, sell, m1 * lot, config.bridge).net
                < opportunity_at(buy, sell, m2 * lot, config.bridge).net
            ):
                lo = m1 + 1
            else:
                hi = m2 - 1
        found = max(
            (opportunity_at(buy, sell, k * lot, config.bridge) for k in range(lo, hi + 1)),
            key=lambda o: o.net,
        )
        if found.net >= config.min_net_quote and (best is None or found.net > best.net):
            best = found
    return best


@dataclass(frozen=True)
class Transfer:
    asset: str
    from_chain: str
    to_chain: str
    amount: float
    cost_quote: float
    lands_after_s: float


def plan_rebalance(
    held: dict[str, dict[str, float]],
    targets: dict[str, dict[str, float]],
    prices: dict[str, float],
    bridge: BridgeModel,
) -> list[Transfer]:
    """Bridge transfers (on paper) that bring ``held[chain][asset]`` back to ``targets``: each asset's
    surplus chains send to its deficit chains, largest first; cost and landing time per transfer."""
    plan = []
    for asset in sorted({a for chain in targets.values() for a in chain}):
        drift = {c: held.get(c, {}).get(asset, 0.0) - targets[c].get(asset, 0.0) for c in targets}
        surplus = sorted(((d, c) for c, d in drift.items() if d > 0), reverse=True)
        deficit = sorted(((-d, c) for c, d in drift.items() if d < 0), reverse=True)
        while surplus and deficit:
            (give, src), (need, dst) = surplus[0], deficit[0]
            amount = min(give, need)
            plan.append(
                Transfer(
                    asset, src, dst, amount, bridge_cost(bridge, amount * prices[asset]), bridge.latency_s
                )
            )
            surplus[0], deficit[0] = (give - amount, src), (need - amount, dst)
            surplus = [s for s in surplus if s[0] > 1e-12]
            deficit = [d for d in deficit if d[0] > 1e-12]
    return plan
