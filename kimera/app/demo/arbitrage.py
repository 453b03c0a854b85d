"""The demo's cross-chain arbitrage desk: the execution service watches the paper pools of every asset
that trades on two or more of the demo's simulated chains (ETH: Uniswap V2 on ethereum, PancakeSwap
on bsc) and trades both legs at once from inventory held on each chain (docs/defi.md).

The desk's costs are the shipped ones (``execution.arbitrage``: threshold, largest trade, bridge
model) and the paper venues' (pool fees, ``execution.paper.gas_quote`` per swap); nothing is tuned
so that the simulated chains offer a profit. The report stage prints what it saw and took.
"""

from __future__ import annotations

from typing import Any

from kimera.config import KimeraConfig


def demo_arbitrage(config: KimeraConfig) -> dict[str, Any] | None:
    """The ``execution.arbitrage`` keys of the demo's service: the user's settings with ``venues``
    the pool venues of every asset on two or more chains and ``inventory`` per chain (``max_amount``
    of each such asset and twice its value at the simulator's start price in the quote); None when
    the config configures the desk itself, or no asset trades on two chains."""
    from execution.venues.specs import pool_refs  # the paper server names its pool venues so

    arb = config.execution.arbitrage
    if arb.venues:
        return None
    by_asset: dict[str, dict[str, str]] = {}
    for ref in pool_refs(config):
        by_asset.setdefault(ref.asset, {}).setdefault(ref.chain, ref.name)
    crossing = {a: chains for a, chains in by_asset.items() if len(chains) > 1 and a in config.sim.assets}
    if not crossing:
        return None
    quote = {a.symbol: a.quote for a in config.assets}
    inventory: dict[str, dict[str, float]] = {}
    for asset, chains in crossing.items():
        for chain in chains:
            held = inventory.setdefault(chain, {})
            held[asset] = arb.max_amount
            value = 2 * arb.max_amount * config.sim.assets[asset].price
            held[quote[asset]] = held.get(quote[asset], 0.0) + value
    return {
        **arb.model_dump(mode="json"),
        "venues": [name for chains in crossing.values() for name in chains.values()],
        "inventory": inventory,
    }


def fetch_arbitrage(settings: Any, config: KimeraConfig) -> dict[str, Any] | str:
    """``GET /reports/arbitrage`` of the execution service, signed with the client key; else a
    sentence saying why there are no figures."""
    from kimera.app.demo.accounts import fetch_json

    return fetch_json(settings, config, "/reports/arbitrage")
