"""Paper venues from the config: one per simulated CEX venue, one per configured DEX pool."""

from __future__ import annotations

from dataclasses import dataclass

from execution.venues.books import BookSource, SimulatorMarket
from execution.venues.matching import PaperVenueSpec
from kimera.config import KimeraConfig


@dataclass(frozen=True)
class PoolRef:
    name: str  # venue name, e.g. uniswap_v2_weth_usdc
    address: str
    asset: str  # the configured asset the pool trades, e.g. ETH
    symbol: str  # routed as this symbol, e.g. ETH/USDT (stablecoins taken at par)
    fee: float
    chain: str = ""  # the chain it lives on (a name in chains:)
    base_token: str = ""  # the token that is the asset (WETH for ETH)


def pool_refs(config: KimeraConfig) -> list[PoolRef]:
    """The configured pools whose one side is a traded asset, seen as venues of that asset; a pool on
    a chain after the first has that chain's name at the end of its venue name."""
    traded = {a.symbol: a for a in config.assets}
    refs = []
    for n, view in enumerate(config.chain_views()):
        token_asset = {t.symbol: t.asset for t in view.chain.tokens}
        suffix = f"_{view.chain.name}" if n else ""
        for pool in view.dex.pools:
            for base, quote in ((pool.token0, pool.token1), (pool.token1, pool.token0)):
                asset = token_asset.get(base)
                if asset in traded and token_asset.get(quote) not in traded:
                    refs.append(
                        PoolRef(
                            name=f"{pool.dex}_{base}_{quote}{suffix}".lower(),
                            address=pool.address,
                            asset=asset,
                            symbol=traded[asset].pair,
                            fee=pool.fee_bps / 1e4,
                            chain=view.chain.name,
                            base_token=base,
                        )
                    )
                    break
    return refs


def paper_specs(config: KimeraConfig) -> list[PaperVenueSpec]:
    """Every paper venue the paper server runs for this config."""
    paper = config.execution.paper
    symbols = tuple(a.pair for a in config.assets)
    specs = [
        PaperVenueSpec(
            name=v.id,
            kind="cex",
            symbols=symbols,
            fee=v.fee_bps / 1e4,
            latency_s=v.latency_ms / 1e3,
            rate_limit_per_s=paper.rate_limit_per_s.get(v.id, v.rate_limit_per_s),
            depth=config.execution.routing.book_depth,
        )
        for v in config.sim.venues
    ]
    from connect.sim import block_seconds

    views = {v.chain.name: v for v in config.chain_views()}
    for ref in pool_refs(config):
        specs.append(
            PaperVenueSpec(
                name=ref.name,
                kind="amm",
                symbols=(ref.symbol,),
                fee=ref.fee,
                latency_s=block_seconds(views[ref.chain]) / 2,  # half a block on average until inclusion
                rate_limit_per_s=paper.rate_limit_per_s.get(ref.name, 5.0),
                gas_quote=paper.gas_quote,
                pools={ref.symbol: ref.address},
            )
        )
    return specs


def paper_market(config: KimeraConfig) -> BookSource:
    """The market paper venues fill against: the simulator of this config (``connect.sim``); a pool
    on another chain of ``chains:`` is read from that chain's simulator (same prices, its own pools)."""
    from connect.sim import simulator_from_config

    views = {v.chain.name: v for v in config.chain_views()}
    refs = pool_refs(config)
    base_tokens = {ref.address: ref.base_token for ref in refs}
    pool_sims = {ref.address: simulator_from_config(views[ref.chain]) for ref in refs}
    return SimulatorMarket(simulator_from_config(config), base_tokens, pool_sims)
