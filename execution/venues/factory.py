"""The venues of a config: ``execution.venues`` entries of type paper, ccxt and uniswap.

Switching a venue from paper to a live exchange or a pool is a change of its entry only; keys come
from secrets (docs/security.md), never from the config file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from execution.venues.base import Venue
from kimera.config import (
    V2_SHAPED,
    CcxtTradingVenue,
    ConfigError,
    KimeraConfig,
    PaperVenueRef,
    UniswapVenueRef,
)
from kimera.settings import Settings


def _missing_secret(venue: str, name: str, what: str) -> ConfigError:
    return ConfigError(
        f"execution.venues: {venue} needs its {what}: set KIMERA_SECRET_{name.upper()} or write it to "
        f"$KIMERA_SECRETS_DIR/{name} (never in the config file)"
    )


def ccxt_venue(ref: CcxtTradingVenue, config: KimeraConfig, settings: Settings) -> Venue:
    from connect.ccxt import credentials as venue_credentials
    from execution.venues.ccxt_venue import CcxtVenue

    credentials = venue_credentials(ref.name, settings)
    for field, suffix, what in (("apiKey", "api_key", "API key"), ("secret", "secret", "API secret")):
        if field not in credentials:
            raise _missing_secret(ref.name, f"{ref.name}_{suffix}", what)
    symbols = {a.pair: ref.symbols.get(a.symbol, a.pair) for a in config.assets}
    return CcxtVenue(ref, symbols, credentials)


async def uniswap_venue(ref: UniswapVenueRef, config: KimeraConfig, settings: Settings) -> Venue:
    from execution.venues.specs import pool_refs
    from execution.venues.uniswap import UniswapVenue

    # the chain the pool lives on (chains:): its tokens and RPC URL
    config = next((v for v in config.chain_views() if any(p.address.lower() == ref.pool.lower() for p in v.dex.pools)
                   and ref.chain in (None, v.chain.name)), config)  # fmt: skip
    pool = next((p for p in config.dex.pools if p.address.lower() == ref.pool.lower()), None)
    if pool is None:
        raise ConfigError(f"execution.venues: {ref.name}: pool {ref.pool} is not in dex.pools")
    if pool.dex not in (*V2_SHAPED, "uniswap_v3"):
        raise ConfigError(
            f"execution.venues: {ref.name}: pool {ref.pool} is {pool.dex}; traded are uniswap_v3 and {V2_SHAPED}"
        )
    if pool.dex == "uniswap_v3":  # the same venue, the SwapRouter's calls and the pool's exact math
        from execution.venues.uniswap_v3 import UniswapV3Venue as UniswapVenue
    tokens = {t.symbol: t for t in config.chain.tokens}
    for label in (pool.token0, pool.token1):
        if label not in tokens:
            raise ConfigError(
                f"execution.venues: {ref.name}: token {label} of pool {ref.pool} is not in chain.tokens"
            )
    found = next((r for r in pool_refs(config) if r.address == pool.address), None)
    if found is None:
        raise ConfigError(
            f"execution.venues: {ref.name}: neither token of pool {ref.pool} ({pool.token0}, {pool.token1}) "
            f"tracks a traded asset {[a.symbol for a in config.assets]} (set chain.tokens[].asset)"
        )
    base_label = pool.token0 if tokens[pool.token0].asset == found.asset else pool.token1
    quote_label = pool.token1 if base_label == pool.token0 else pool.token0
    url_secret = ref.rpc_url_secret or (None if ref.rpc_url else config.chain.rpc_url_secret)
    if url_secret:
        url = settings.secret(url_secret)
        if url is None:
            raise _missing_secret(ref.name, url_secret, "RPC URL")
    elif ref.rpc_url or config.chain.rpc_url:
        url = SecretStr(ref.rpc_url or config.chain.rpc_url)
    else:
        raise ConfigError(
            f"execution.venues: {ref.name}: no rpc_url (set it on the venue or as chain.rpc_url)"
        )
    key = settings.secret(f"{ref.name}_private_key")
    if key is None:
        raise _missing_secret(ref.name, f"{ref.name}_private_key", "wallet's private key")
    store = settings.home_dir / "execution" / f"uniswap_{ref.name}.sqlite"
    venue = UniswapVenue(ref, found.symbol, found.fee, tokens[base_label].address, tokens[quote_label].address,
                         url, key, store, rpc_url_is_secret=bool(url_secret))  # fmt: skip
    return await venue.connect()


async def connect_venues(
    config: KimeraConfig, settings: Settings, paper: Callable[[], Awaitable[dict[str, Venue]]]
) -> dict[str, Venue]:
    """Every configured venue, connected; ``paper()`` connects the paper server's venues when needed."""
    refs = config.execution.venues
    venues: dict[str, Venue] = {}
    wanted = [r.name for r in refs if isinstance(r, PaperVenueRef)]
    if not refs or wanted:
        offered = await paper()
        if not refs:
            return offered
        unknown = [n for n in wanted if n not in offered]
        if unknown:
            raise ConfigError(
                f"execution.venues: the paper server has no venue {unknown}; it runs {sorted(offered)}"
            )
        venues.update({n: offered[n] for n in wanted})
    try:
        for ref in refs:
            if isinstance(ref, CcxtTradingVenue):
                venues[ref.name] = ccxt_venue(ref, config, settings)
            elif isinstance(ref, UniswapVenueRef):
                venues[ref.name] = await uniswap_venue(ref, config, settings)
    except BaseException:
        for venue in venues.values():
            await venue.close()
        raise
    return venues
