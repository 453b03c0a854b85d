"""What the simulated world is made of: assets, venues, tokens, wallets, pools and activity rates.

A :class:`SimSpec` plus a time window fully determines the simulator's output. Every stream of
randomness is keyed by the *names* in the spec (asset symbol, venue id, token symbol, pool
address), so adding a venue or a pool leaves the rows of the others unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

# Quote currencies and token assets the simulator prices at exactly 1 USD.
USD_PEGGED = frozenset({"USD", "USDT", "USDC", "DAI", "BUSD", "FDUSD", "TUSD", "USDE"})
DEX_KINDS = frozenset({"uniswap_v2", "uniswap_v3", "sushiswap", "pancakeswap"})  # forks: V2-shaped
WALLET_CATEGORIES = frozenset({"exchange", "bridge", "fund", "other"})


class SimSpecError(ValueError):
    """A spec the simulator cannot run; the message names the field, the value and what is accepted."""


@dataclass(frozen=True)
class AssetSpec:
    """A traded asset: one latent fair price in USD with stochastic volatility and jumps."""

    symbol: str
    price: float  # fair price at the epoch, USD
    vol: float  # annualised volatility of the diffusive part (jumps come on top)
    quote: str = "USDT"
    token: str | None = None  # on-chain token whose exchange flows carry the planted signal
    jumps_per_day: float = 0.5
    jump_size: float = 0.015  # standard deviation of one jump's log size

    @property
    def pair(self) -> str:
        return f"{self.symbol}/{self.quote}"


@dataclass(frozen=True)
class VenueSpec:
    """A centralised exchange: its own spread, fee, book depth, latency and price dispersion."""

    id: str
    spread_bps: float = 2.0
    fee_bps: float = 10.0
    depth: float = 1.0  # notional at the best level, in units of 100,000 quote
    latency_ms: float = 20.0
    dispersion_bps: float = 1.0


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    address: str
    decimals: int = 18
    asset: str | None = None  # WETH -> ETH, USDC -> USD
    whale_threshold: float = 0.0  # token units; 0 means no whale moves


@dataclass(frozen=True)
class WalletSpec:
    address: str
    label: str
    category: str = "exchange"


@dataclass(frozen=True)
class PoolSpec:
    address: str
    token0: str
    token1: str
    dex: str = "uniswap_v2"
    fee_bps: float = 30.0


@dataclass(frozen=True)
class SimSpec:
    """Everything the simulated world depends on (with the seed); see ``docs/simulator.md``."""

    start: datetime  # the epoch: midnight UTC, naive; nothing exists before it
    assets: tuple[AssetSpec, ...]
    venues: tuple[VenueSpec, ...]
    tokens: tuple[TokenSpec, ...] = ()
    wallets: tuple[WalletSpec, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    seed: int = 7
    signal_strength: float = 0.0  # beta: next bar's drift is -beta * s * sigma_bar
    chain: str = "ethereum"
    bar_seconds: int = 3600  # the bar of the planted signal (features.bar)
    timeframe_seconds: int = 60  # OHLCV candle length
    book_interval_seconds: int = 300
    book_depth: int = 10
    trades_per_minute: float = 3.0  # per venue and symbol (public trade feed)
    block_seconds: int = 12
    first_block: int = 21_000_000  # block number of the first slot at the epoch
    gas_limit: int = 30_000_000
    exchange_flows_per_hour: float = 20.0  # per token and direction (into / out of exchanges)
    flow_size_usd: float = 80_000.0  # median exchange transfer
    whales_per_day: float = 4.0  # per token with a whale threshold
    transfers_per_hour: float = 30.0  # background wallet-to-wallet transfers, per token
    dex_swaps_per_hour: float = 12.0  # noise swaps per pool (arbitrage swaps come on top)
    dex_arb_lag_seconds: float = 60.0  # mean time between an arbitrageur's looks at a pool
    pool_tvl_usd: float = 20_000_000.0
    users: int = 20_000  # size of the population of ordinary wallets
    # Latent dynamics (rarely changed; documented in docs/simulator.md).
    vol_of_vol: float = 0.35  # stationary std of log volatility
    vol_halflife_minutes: float = 720.0
    dispersion_halflife_minutes: float = 10.0
    base_fee_gwei: float = 15.0

    def __post_init__(self) -> None:
        _validate(self)

    # --- derived -----------------------------------------------------------------------------------
    @property
    def bars_per_day(self) -> int:
        return 86_400 // self.bar_seconds

    @property
    def minutes_per_bar(self) -> int:
        return self.bar_seconds // 60

    @property
    def exchange_wallets(self) -> tuple[WalletSpec, ...]:
        return tuple(w for w in self.wallets if w.category == "exchange")

    def asset(self, symbol: str) -> AssetSpec:
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise KeyError(f"unknown asset {symbol!r}; simulated assets are {[a.symbol for a in self.assets]}")

    def token(self, symbol: str) -> TokenSpec:
        for t in self.tokens:
            if t.symbol == symbol:
                return t
        raise KeyError(f"unknown token {symbol!r}; configured tokens are {[t.symbol for t in self.tokens]}")

    def token_usd_price_at_epoch(self, token: TokenSpec) -> float:
        if token.asset is None or token.asset.upper() in USD_PEGGED:
            return 1.0
        return self.asset(token.asset).price


def _fail(name: str, value: object, accepted: str) -> None:
    raise SimSpecError(f"simulator spec: {name} = {value!r} is not accepted: {accepted}")


def _divides_day(name: str, seconds: int, minimum: int) -> None:
    if seconds < minimum or 86_400 % seconds or seconds % minimum:
        _fail(name, seconds, f"a multiple of {minimum} s that divides a day (86400 s)")


def _validate(spec: SimSpec) -> None:
    start = spec.start
    if start.tzinfo is not None or (start.hour, start.minute, start.second, start.microsecond) != (
        0,
        0,
        0,
        0,
    ):
        _fail("start", start, "a naive UTC datetime at midnight (the config's start date)")
    if spec.seed < 0:
        _fail("seed", spec.seed, "an integer >= 0")
    if not math.isfinite(spec.signal_strength) or spec.signal_strength < 0:
        _fail("signal_strength", spec.signal_strength, "a finite number >= 0")
    if not spec.assets:
        _fail("assets", spec.assets, "at least one asset")
    if not spec.venues:
        _fail("venues", spec.venues, "at least one venue")
    _divides_day("bar_seconds", spec.bar_seconds, 60)
    _divides_day("timeframe_seconds", spec.timeframe_seconds, 60)
    _divides_day("book_interval_seconds", spec.book_interval_seconds, 60)
    if not 1 <= spec.book_depth <= 500:
        _fail("book_depth", spec.book_depth, "1 to 500 levels")
    if not 0 < spec.trades_per_minute <= 1000:
        _fail("trades_per_minute", spec.trades_per_minute, "more than 0 and at most 1000")
    if not 1 <= spec.block_seconds <= 60:
        _fail("block_seconds", spec.block_seconds, "1 to 60")
    if spec.first_block < 1 or spec.gas_limit < 1_000_000:
        _fail(
            "first_block/gas_limit", (spec.first_block, spec.gas_limit), "first_block >= 1, gas_limit >= 1e6"
        )
    for name in ("exchange_flows_per_hour", "whales_per_day", "transfers_per_hour", "dex_swaps_per_hour"):
        value = getattr(spec, name)
        if not (math.isfinite(value) and 0 <= value <= 100_000):
            _fail(name, value, "a number from 0 to 100000")
    for name in ("flow_size_usd", "dex_arb_lag_seconds", "pool_tvl_usd", "base_fee_gwei"):
        value = getattr(spec, name)
        if not (math.isfinite(value) and value > 0):
            _fail(name, value, "a finite number > 0")
    if spec.users < 10:
        _fail("users", spec.users, "at least 10 wallets")

    symbols = [a.symbol for a in spec.assets]
    if len(set(symbols)) != len(symbols):
        _fail("assets", symbols, "unique symbols")
    for a in spec.assets:
        if not (a.price > 0 and math.isfinite(a.price)):
            _fail(f"assets.{a.symbol}.price", a.price, "a positive USD price")
        if not 0 < a.vol <= 5:
            _fail(f"assets.{a.symbol}.vol", a.vol, "an annualised volatility in (0, 5]")
        if a.jumps_per_day < 0 or a.jump_size < 0:
            _fail(f"assets.{a.symbol}.jumps", (a.jumps_per_day, a.jump_size), "non-negative numbers")
        if a.quote.upper() not in USD_PEGGED:
            _fail(f"assets.{a.symbol}.quote", a.quote, f"a USD-pegged quote, one of {sorted(USD_PEGGED)}")
    ids = [v.id for v in spec.venues]
    if len(set(ids)) != len(ids):
        _fail("venues", ids, "unique venue ids")
    for v in spec.venues:
        if v.spread_bps <= 0 or v.depth <= 0 or v.fee_bps < 0 or v.latency_ms < 0 or v.dispersion_bps < 0:
            _fail(f"venues.{v.id}", v, "spread_bps > 0, depth > 0, fee/latency/dispersion >= 0")

    tokens = {t.symbol: t for t in spec.tokens}
    if len(tokens) != len(spec.tokens):
        _fail("tokens", [t.symbol for t in spec.tokens], "unique token symbols")
    for t in spec.tokens:
        if not _is_hex(t.address, 20):
            _fail(f"tokens.{t.symbol}.address", t.address, "a 0x-prefixed 20-byte hex address")
        if not 0 <= t.decimals <= 36:
            _fail(f"tokens.{t.symbol}.decimals", t.decimals, "0 to 36")
        if t.asset is not None and t.asset.upper() not in USD_PEGGED and t.asset not in symbols:
            _fail(f"tokens.{t.symbol}.asset", t.asset, f"a simulated asset {symbols} or a USD peg")
    for a in spec.assets:
        if a.token is not None and a.token not in tokens:
            _fail(f"assets.{a.symbol}.token", a.token, f"a configured token {sorted(tokens)}")
    for w in spec.wallets:
        if not _is_hex(w.address, 20):
            _fail(f"wallets.{w.label}.address", w.address, "a 0x-prefixed 20-byte hex address")
        if w.category not in WALLET_CATEGORIES:
            _fail(f"wallets.{w.label}.category", w.category, f"one of {sorted(WALLET_CATEGORIES)}")
    seen_pools = set()
    for p in spec.pools:
        if not _is_hex(p.address, 20):
            _fail("pools.address", p.address, "a 0x-prefixed 20-byte hex address")
        if p.address.lower() in seen_pools:
            _fail("pools.address", p.address, "each pool once")
        seen_pools.add(p.address.lower())
        if p.dex not in DEX_KINDS:
            _fail(f"pools.{p.address}.dex", p.dex, f"one of {sorted(DEX_KINDS)}")
        for side in (p.token0, p.token1):
            if side not in tokens:
                _fail(f"pools.{p.address}.token", side, f"a configured token {sorted(tokens)}")
        for side in (p.token0, p.token1):
            if tokens[side].asset is None:
                _fail(
                    f"tokens.{side}.asset",
                    None,
                    "the asset a pool's token tracks (a simulated asset or USD), to price it",
                )
        if p.token0 == p.token1:
            _fail(f"pools.{p.address}", (p.token0, p.token1), "two different tokens")
        if not 0 < p.fee_bps < 10_000:
            _fail(f"pools.{p.address}.fee_bps", p.fee_bps, "more than 0 and less than 10000")


def _is_hex(text: str, nbytes: int) -> bool:
    if not (isinstance(text, str) and text.startswith("0x") and len(text) == 2 + 2 * nbytes):
        return False
    try:
        int(text[2:], 16)
    except ValueError:
        return False
    return True
