"""The execution service's cross-chain arbitrage desk: it watches pools of one asset on several
chains, and when :func:`~execution.arbitrage.find_opportunity` finds a gap that pays net of fees,
gas on both chains and the bridge, it sends both legs at the same moment, each from the inventory
already held on its chain (no bridge in the trade path).

Inventory per chain starts at ``execution.arbitrage.inventory`` (also the targets) and moves with
every fill on the desk's venues; a leg never asks for more than its chain holds. The drift from
the targets and the bridge transfers that would bring it back (:func:`plan_rebalance`, on paper:
nothing is moved) are in :meth:`ArbitrageDesk.report`, served at ``GET /reports/arbitrage``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from execution import orders as sm
from execution.arbitrage import (
    ChainPool,
    Opportunity,
    cost_floor_bps,
    cross_chain_basis,
    find_opportunity,
    gap_bps,
    opportunity_at,
    plan_rebalance,
)
from execution.orders import ChildOrder
from execution.router import PoolInput
from execution.venues.base import Side, TimeInForce, VenueFill
from kimera.config import KimeraConfig

if TYPE_CHECKING:
    from execution.service import ExecutionService

log = logging.getLogger(__name__)


def venue_chains(config: KimeraConfig) -> dict[str, str]:
    """The chain of every pool venue: a ``uniswap`` venue's pool's chain, or a paper pool's."""
    from execution.venues.specs import pool_refs

    primary = config.chain.name
    chains = {ref.name: ref.chain for ref in pool_refs(config)}
    pool_chain: dict[str, str] = {}
    for p in config.dex.pools:
        pool_chain.setdefault(p.address.lower(), p.chain or primary)
    for ref in config.execution.venues:
        pool = getattr(ref, "pool", None)
        if pool is not None and pool.lower() in pool_chain:
            chains[ref.name] = getattr(ref, "chain", None) or pool_chain[pool.lower()]
    return chains


@dataclass
class ArbitrageTrade:
    """One opportunity acted on: the prediction and its two legs."""

    arb_id: str
    asset: str
    opportunity: Opportunity
    buy: ChildOrder
    sell: ChildOrder
    at: float

    @property
    def settled(self) -> bool:
        return self.buy.settled and self.sell.settled

    def view(self) -> dict[str, Any]:
        o = self.opportunity
        legs = {}
        for name, leg, chain in (("buy", self.buy, o.buy.chain), ("sell", self.sell, o.sell.chain)):
            legs[name] = {
                "chain": chain,
                "venue": leg.venue,
                "client_order_id": leg.client_order_id,
                "state": leg.state.value,
                "amount": str(leg.amount),
                "filled": str(leg.filled),
                "average_price": None if leg.average_price is None else str(leg.average_price),
                "fees": str(leg.fees),
            }
        realised = None
        if self.settled and self.buy.filled == self.sell.filled:
            realised = float(self.sell.cost - self.buy.cost - self.buy.fees - self.sell.fees) - o.bridge
        return {
            "arb_id": self.arb_id,
            "asset": self.asset,
            "at": self.at,
            "amount": o.amount,
            "predicted_net": o.net,
            "predicted_paid": o.paid,
            "predicted_received": o.received,
            "gas": o.gas,
            "bridge": o.bridge,
            "realised_net": realised,
            "legs": legs,
        }


@dataclass
class ArbitrageDesk:
    service: ExecutionService
    chains: dict[str, str] = field(init=False)  # venue -> chain, the desk's venues only
    held: dict[str, dict[str, float]] = field(init=False)
    trades: list[ArbitrageTrade] = field(default_factory=list)
    last_basis: dict[str, dict[str, float]] = field(default_factory=dict)
    fees_quote: float = 0.0
    looks: int = 0  # looks that priced the pools (not those waiting on unsettled legs)
    seen: int = 0  # opportunities found clearing min_net_quote, before the inventory cut
    widest: dict[str, Any] | None = None  # the widest gap of any look, with the cost floor of its pair

    def __post_init__(self) -> None:
        cfg = self.service.cfg.arbitrage
        known = venue_chains(self.service.config)
        unknown = [v for v in cfg.venues if v not in known]
        if unknown:
            raise ValueError(
                f"execution.arbitrage.venues {unknown} are not pool venues; pool venues are {sorted(known)}"
            )
        self.chains = {v: known[v] for v in cfg.venues}
        self.held = {c: dict(assets) for c, assets in cfg.inventory.items()}

    # --- the loop ---------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.service.cfg.arbitrage.interval_s)
            try:
                await self.look()
            except Exception:
                log.exception("arbitrage look failed")

    async def look(self) -> ArbitrageTrade | None:
        """One look at every asset's pools; acts on the best opportunity, if any. While a trade's legs
        are not settled, or the kill switch stops new orders, it only refreshes the basis."""
        service = self.service
        busy = any(not t.settled for t in self.trades)
        if busy:
            return None
        if self.trades:  # price the next look on pool states read after the last legs settled
            await asyncio.gather(*(service.market.refresh(v, s) for v, s in self._watched()))
        best: tuple[str, Opportunity] | None = None
        self.looks += 1
        for asset, pools in self._pools().items():
            self.last_basis[asset] = {f"{a}->{b}": v for (a, b), v in cross_chain_basis(pools).items()}
            self._note_widest(asset, pools)
            opp = find_opportunity(pools, service.cfg.arbitrage, lot=service._lot(service.assets[asset].pair))
            self.seen += opp is not None
            opp = opp and self._within_inventory(asset, opp)
            if opp is not None and (best is None or opp.net > best[1].net):
                best = (asset, opp)
        if best is None or not service.killswitch.allows(reducing=False):
            return None
        return await self._trade(*best)

    def _note_widest(self, asset: str, pools: list[ChainPool]) -> None:
        """Keep the widest cross-chain gap seen so far and the cost floor it had to clear."""
        for buy in pools:
            for sell in pools:
                if buy.chain == sell.chain:
                    continue
                gap = gap_bps(buy, sell)
                if self.widest is None or gap > self.widest["gap_bps"]:
                    self.widest = {
                        "asset": asset,
                        "buy_chain": buy.chain,
                        "sell_chain": sell.chain,
                        "gap_bps": gap,
                        "cost_floor_bps": cost_floor_bps(buy, sell, self.service.cfg.arbitrage),
                    }

    def _watched(self) -> list[tuple[str, str]]:
        rules = self.service.rules
        return [(v, s) for v in self.chains for s in rules.get(v, {})]

    def _pools(self) -> dict[str, list[ChainPool]]:
        service = self.service
        by_asset: dict[str, list[ChainPool]] = {}
        for venue, symbol in self._watched():
            asset = symbol.split("/")[0]
            state = service.market.pool(venue, symbol)
            if asset not in service.assets or state is None:
                continue
            pool = state.concentrated or PoolInput(
                venue, state.base_reserve, state.quote_reserve, state.fee, state.gas_quote,
                service.cfg.routing.max_pool_fraction,
            )  # fmt: skip
            by_asset.setdefault(asset, []).append(ChainPool(self.chains[venue], pool))
        return by_asset

    def _quote(self, asset: str) -> str:
        return self.service.assets[asset].quote

    def _within_inventory(self, asset: str, opp: Opportunity) -> Opportunity | None:
        """``opp`` cut to what the sell chain holds of the asset and the buy chain of the quote."""
        cfg = self.service.cfg.arbitrage
        base = self.held.get(opp.sell.chain, {}).get(asset, 0.0)
        quote = self.held.get(opp.buy.chain, {}).get(self._quote(asset), 0.0)
        amount = min(opp.amount, base, 0.99 * quote / opp.buy_limit)
        if amount < opp.amount:
            lot = self.service._lot(self.service.assets[asset].pair)
            amount = int(amount / lot) * lot
            if amount <= 0:
                return None
            opp = opportunity_at(opp.buy, opp.sell, amount, cfg.bridge)
        return opp if opp.net >= cfg.min_net_quote else None

    async def _trade(self, asset: str, opp: Opportunity) -> ArbitrageTrade:
        service = self.service
        symbol = service.assets[asset].pair
        arb_id = sm.new_client_order_id()
        slip = service.cfg.routing.slippage_bps / 1e4
        legs = []
        for side, chain_pool, average in (
            (Side.BUY, opp.buy, opp.buy_limit),
            (Side.SELL, opp.sell, opp.sell_limit),
        ):
            venue = chain_pool.pool.venue
            rules = service.rules[venue][symbol]
            amount = Decimal(repr(opp.amount)).quantize(rules.amount_increment, rounding=ROUND_DOWN)
            # the leg's limit is its predicted average price moved by the routing slippage allowance
            price = average * (1 + slip) if side is Side.BUY else average * (1 - slip)
            limit = Decimal(repr(price)).quantize(
                rules.price_increment, rounding=ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
            )
            order, _ = sm.create(
                client_order_id=sm.new_client_order_id(), parent_id=f"arb:{arb_id}",
                intent_key=f"arb:{arb_id}:{side.value}", venue=venue, symbol=symbol, asset=asset, side=side,
                amount=amount, limit_price=limit, time_in_force=TimeInForce.IOC,
            )  # fmt: skip
            legs.append(order)
        statements = []
        for order in legs:
            service.oms.register(order)
            statements.extend(service.oms.created_and_submitted(order))
        trade = ArbitrageTrade(arb_id, asset, opp, legs[0], legs[1], time.time())
        self.trades.append(trade)  # before the write: a look that passed the kill switch is on record
        await service.journal.write(statements)
        for order in legs:  # both legs at once: neither waits for the other
            service.oms.spawn(service.oms.send(order))
        log.info(
            "arbitrage %s: buy %s %s on %s, sell on %s, predicted net %.2f",
            arb_id, opp.amount, asset, opp.buy.chain, opp.sell.chain, opp.net,
        )  # fmt: skip
        return trade

    # --- inventory --------------------------------------------------------------------------------
    def on_fill(self, order: ChildOrder, fill: VenueFill) -> None:
        """A fill on one of the desk's venues moves that chain's inventory (fees are gas, paid apart)."""
        chain = self.chains.get(order.venue)
        if chain is None:
            return
        sign = 1.0 if fill.side is Side.BUY else -1.0
        amount, price = float(fill.amount), float(fill.price)
        held = self.held.setdefault(chain, {})
        held[order.asset] = held.get(order.asset, 0.0) + sign * amount
        quote = self._quote(order.asset)
        held[quote] = held.get(quote, 0.0) - sign * amount * price
        self.fees_quote += float(fill.fee)

    def report(self) -> dict[str, Any]:
        """Inventory per chain against its targets, the drift, the bridge plan that would undo it (on
        paper), the last cross-chain basis per asset, how many looks priced the pools, opportunities
        seen and taken, the realised net of settled trades, the widest gap seen beside the cost floor
        it had to clear, the desk's settings, and every trade with its two legs."""
        cfg = self.service.cfg.arbitrage
        targets = {c: dict(a) for c, a in cfg.inventory.items()}
        drift = {
            c: {a: self.held.get(c, {}).get(a, 0.0) - t for a, t in assets.items()}
            for c, assets in targets.items()
        }
        prices = self._prices()
        plan = plan_rebalance(self.held, targets, prices, cfg.bridge) if prices else []
        views = [t.view() for t in self.trades]
        return {
            "venues": self.chains,
            "inventory": self.held,
            "targets": targets,
            "drift": drift,
            "rebalance": [
                {
                    "asset": t.asset,
                    "from_chain": t.from_chain,
                    "to_chain": t.to_chain,
                    "amount": t.amount,
                    "cost_quote": t.cost_quote,
                    "lands_after_s": t.lands_after_s,
                }
                for t in plan
            ],  # fmt: skip
            "basis": self.last_basis,
            "fees_quote": self.fees_quote,
            "looks": self.looks,
            "opportunities_seen": self.seen,
            "taken": len(self.trades),
            "realised_net": sum(v["realised_net"] or 0.0 for v in views),
            "widest_gap": self.widest,
            "settings": {
                "min_net_quote": cfg.min_net_quote,
                "max_amount": cfg.max_amount,
                "bridge": cfg.bridge.model_dump(mode="json"),
            },
            "trades": views,
        }

    def _prices(self) -> dict[str, float]:
        """Quote price of every inventory asset (the quote at 1; an asset at its pools' mean mid)."""
        prices: dict[str, float] = {}
        for asset, pools in self._pools().items():
            prices[asset] = sum(p.mid for p in pools) / len(pools)
            prices[self._quote(asset)] = 1.0
        wanted = {a for assets in self.service.cfg.arbitrage.inventory.values() for a in assets}
        return prices if wanted <= set(prices) else {}
