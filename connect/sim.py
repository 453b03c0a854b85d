"""The simulator as Kimera configures it: ``simulator_from_config(config) -> MarketSimulator``.

One simulator per distinct config in a process (the pipelines' sources and the execution
service's paper venues share its caches), built from the config's ``start``, ``assets``,
``exchange``, ``chain``, ``dex``, ``features.bar`` and ``sim`` sections.
"""

from __future__ import annotations

import threading
from datetime import datetime

from kimera.config import TIMEFRAME_SECONDS, ConfigError, KimeraConfig
from marketsim import (
    AssetSpec,
    MarketSimulator,
    PoolSpec,
    SimSpec,
    SimSpecError,
    TokenSpec,
    VenueSpec,
    WalletSpec,
)

# sim.first_block is the block number at this moment, not at `start`: moving `start` over an
# existing warehouse must not renumber the blocks already stored (their numbers are natural keys).
BLOCK_ANCHOR = datetime(2026, 1, 1)

_cache: dict[tuple[SimSpec, int], MarketSimulator] = {}
_lock = threading.Lock()


def spec_from_config(config: KimeraConfig) -> SimSpec:
    """The simulator spec the config describes; raises ConfigError naming the key if it cannot run.

    A section read from a real chain (``source: rpc``) is not simulated: its tokens, wallets and
    pools were written for that chain, so the simulated world leaves them out (a simulated exchange
    beside a real chain has no simulated chain activity, and no planted signal).
    """
    sim = config.sim
    first_block = first_block_at_start(config)
    if first_block < 1:
        # blocks are numbered from a fixed anchor; a start years before it has no block numbers left
        needed = sim.first_block - first_block + 1
        raise ConfigError(
            f"start = {config.start_time:%Y-%m-%d} is before the simulated chain's block 1 (sim.first_block = "
            f"{sim.first_block} at {BLOCK_ANCHOR:%Y-%m-%d}, one block every {block_seconds(config)} s): set "
            f"sim.first_block to at least {needed}, a later start, or, for imported candles, "
            "exchange.source: file with their files"
        )
    chain_simulated = config.chain.source == "sim"
    # Another chain of a world (chains: beyond the first): its pools and flows, the first chain's prices.
    other_chain = _world_of(config) is not None
    dex_simulated = config.dex.source == "sim" and chain_simulated
    assets = []
    for a in config.assets:
        params = sim.assets.get(a.symbol)
        if params is None:
            raise ConfigError(
                f"sim.assets has no entry for {a.symbol!r} (listed in assets): add e.g. "
                f"`sim: {{assets: {{{a.symbol}: {{price: 100.0, vol: 0.8}}}}}}`; known: {sorted(sim.assets)}"
            )
        known_tokens = [t.symbol for t in config.chain.tokens]
        if chain_simulated and not other_chain and a.token is not None and a.token not in known_tokens:
            raise ConfigError(
                f"assets[{a.symbol}].token = {a.token!r} is not accepted: the simulated chain carries its "
                f"exchange flows (the planted signal), so it must be one of chain.tokens {known_tokens}"
            )
        token = a.token if chain_simulated and not other_chain else None
        assets.append(
            AssetSpec(
                symbol=a.symbol,
                quote=a.quote,
                token=token,
                price=params.price,
                vol=params.vol,
                jumps_per_day=params.jumps_per_day,
                jump_size=params.jump_size,
            )
        )
    try:
        return SimSpec(
            start=config.start_time,
            assets=tuple(assets),
            venues=tuple(
                VenueSpec(
                    id=v.id,
                    spread_bps=v.spread_bps,
                    fee_bps=v.fee_bps,
                    depth=v.depth,
                    latency_ms=v.latency_ms,
                    dispersion_bps=v.dispersion_bps,
                )
                for v in sim.venues
            ),
            tokens=tuple(
                TokenSpec(t.symbol, t.address, t.decimals, t.asset, t.whale_threshold)
                for t in (config.chain.tokens if chain_simulated else ())
            ),
            wallets=tuple(
                WalletSpec(w.address, w.label, w.category)
                for w in (config.chain.exchange_wallets if chain_simulated else ())
            ),
            pools=tuple(
                PoolSpec(p.address, p.token0, p.token1, p.dex, p.fee_bps)
                for p in (config.dex.pools if dex_simulated else ())
                if p.chain in (None, config.chain.name)
            ),
            seed=sim.seed,
            signal_strength=sim.signal_strength if chain_simulated and not other_chain else 0.0,
            chain=config.chain.name,
            bar_seconds=TIMEFRAME_SECONDS[config.features.bar],
            timeframe_seconds=TIMEFRAME_SECONDS[config.exchange.timeframe],
            book_interval_seconds=TIMEFRAME_SECONDS[config.exchange.book_interval],
            book_depth=config.exchange.book_depth,
            trades_per_minute=sim.trades_per_minute,
            block_seconds=block_seconds(config),
            first_block=first_block,
            exchange_flows_per_hour=sim.exchange_flows_per_hour,
            flow_size_usd=sim.flow_size_usd,
            whales_per_day=sim.whales_per_day,
            transfers_per_hour=sim.transfers_per_hour,
            dex_swaps_per_hour=sim.dex_swaps_per_hour,
            dex_arb_lag_seconds=sim.dex_arb_lag_seconds,
            pool_tvl_usd=sim.pool_tvl_usd,
        )
    except SimSpecError as exc:
        raise ConfigError(f"the config does not describe a world the simulator can run: {exc}") from None


def check_simulated_world(config: KimeraConfig) -> None:
    """Refuse, naming the key, a config whose simulated sources the simulator could not build.

    Called where the code location loads (``pipelines.definitions``), so ``dagster dev``, the
    Dagster CLI and every ``kimera`` command that runs a job refuse it before any run starts.
    """
    # Only the simulated exchange: it needs every asset simulated. A user whose candles come from
    # files keeps the default simulated chain settings without simulating their assets.
    if config.exchange.source != "sim":
        return
    try:
        spec_from_config(config)
    except ConfigError as exc:
        raise ConfigError(f"exchange.source = 'sim': {exc}") from None


def first_block_at_start(config: KimeraConfig) -> int:
    """The simulated chain's block number at ``start``: ``sim.first_block`` at :data:`BLOCK_ANCHOR`,
    one more every ``sim.block_seconds``, so a block keeps its number and time whatever ``start`` is."""
    shift = int((config.start_time - BLOCK_ANCHOR).total_seconds()) // block_seconds(config)
    return config.sim.first_block + shift


def block_seconds(config: KimeraConfig) -> int:
    """Seconds per simulated block: ``sim.block_seconds`` on the first chain, ``block_time_s``
    (whole seconds, at least 1) on the other chains of ``chains:``."""
    if _world_of(config) is None:
        return config.sim.block_seconds
    return max(1, round(config.chain.block_time_s))


def _world_of(config: KimeraConfig) -> KimeraConfig | None:
    """The first chain's view when ``config`` is the view of another chain (``kimera.chains``)."""
    world = getattr(config, "_world", None)
    return world if world is not None and world.chain.name != config.chain.name else None


def simulator_from_config(config: KimeraConfig) -> MarketSimulator:
    """The process-wide simulator of ``config`` (one per distinct world and chain, built on first use).

    Keyed by the spec, so a config and the view of its first chain share one simulator; the view of
    another chain gets its own chain on that simulator's prices (``MarketSimulator(world=...)``).
    """
    spec = spec_from_config(config)
    world_config = _world_of(config)
    world = simulator_from_config(world_config) if world_config is not None else None
    key = (spec, id(world))
    with _lock:
        sim = _cache.get(key)
        if sim is None:
            sim = _cache[key] = MarketSimulator(spec, world=world)
        return sim
