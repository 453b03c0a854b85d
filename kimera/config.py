"""The YAML config file: assets, venues, pools, tokens, wallet labels, and each part's knobs.

Load with :func:`load_config`. A bad value fails at start with :class:`ConfigError`, whose message
names the key, the value given and what is accepted, e.g.::

    kimera.yaml: exchange.source = 'binanse' is not accepted: expected 'sim', 'ccxt' or 'file'

Each part of the project owns one section (``exchange``, ``chain``, ``dex``, ``sim``, ``features``,
``models``, ``serving``, ``execution``); add fields only to your own section.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from kimera.chains import chain_views, check_pool_chains, primary_chain
from kimera.settings import Settings, get_settings

if TYPE_CHECKING:
    from kimera.sessions import Calendar

TIMEFRAME_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}


class ConfigError(ValueError):
    """A config file that cannot be used; the message says which key, which value, what is accepted."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class Asset(_Section):
    """A traded asset: CEX symbol is ``<symbol>/<quote>``; on chain it is the ERC-20 ``token``."""

    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")]
    quote: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")] = "USDT"
    token: str | None = Field(default=None, description="ERC-20 symbol on chain, e.g. WBTC for BTC.")
    sessions: Literal["24/7", "weekdays", "fx", "nyse"] = Field(
        default="24/7",
        description=(
            "When the market trades (UTC): 24/7 (crypto), weekdays (closed Saturday and Sunday), fx "
            "(closed Friday 22:00 to Sunday 22:00), nyse (weekdays, closed on the NYSE's holidays). "
            "Silences in closed sessions are not gaps; nothing is filled."
        ),
    )
    closed_dates: list[date] = Field(
        default_factory=list,
        description=(
            "More whole UTC days the market is closed (holidays of an exchange without a calendar "
            "here), e.g. [2025-12-25]: not gaps, not filled. A missing bar on any other open day is a gap."
        ),
    )

    @property
    def pair(self) -> str:
        return f"{self.symbol}/{self.quote}"


# --- retries shared by live sources -------------------------------------------------------------
class RetryConfig(_Section):
    """Bounded retries with exponential backoff for live sources; a server's Retry-After wins."""

    attempts: Annotated[int, Field(ge=1, le=20)] = Field(
        default=5, description="Tries per request, the first included; then the run fails naming the cause."
    )
    backoff_s: PositiveFloat = Field(default=0.5, description="First wait; doubles each try.")
    max_backoff_s: PositiveFloat = Field(default=30.0, description="Longest wait between two tries.")
    max_retry_after_s: PositiveFloat = Field(
        default=120.0, description="A Retry-After longer than this fails at once instead of waiting."
    )
    timeout_s: PositiveFloat = Field(default=15.0, description="Per-request timeout.")


# --- exchange market data -----------------------------------------------------------------------
class SimVenue(_Section):
    """A simulated CEX venue: its own spread, fee, depth, latency and price dispersion."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")]
    spread_bps: PositiveFloat = 2.0
    fee_bps: NonNegativeFloat = 10.0
    depth: PositiveFloat = Field(default=1.0, description="Top-of-book depth in units of notional 1e5 quote.")
    latency_ms: NonNegativeFloat = 20.0
    dispersion_bps: NonNegativeFloat = 1.0
    rate_limit_per_s: PositiveFloat = 10.0


def known_ccxt_exchange(exchange: str) -> str:
    """``exchange`` if ccxt has it; else a ValueError naming the closest ids (for the validators of
    market-data and trading venues alike)."""
    import difflib

    import ccxt  # only configs that name a ccxt venue pay for this import

    if exchange not in ccxt.exchanges:
        near = difflib.get_close_matches(exchange.lower(), ccxt.exchanges, n=5, cutoff=0.4)
        hint = f"closest: {', '.join(near)}" if near else "see ccxt.exchanges"
        raise ValueError(f"not a ccxt exchange id; {hint} ({len(ccxt.exchanges)} ids are accepted)")
    return exchange


class CcxtMarketData(_Section):
    """Market data from a live exchange reached through ccxt (``exchange.ccxt_venues``); ``exchange`` is any ccxt exchange id (binance, kraken, ...).

    API keys are never written here: public market data needs none, and when given they come from
    the secrets ``<venue>_api_key``, ``<venue>_secret`` and ``<venue>_password``
    (``KIMERA_SECRET_<NAME>`` or a file in ``KIMERA_SECRETS_DIR``).
    """

    exchange: str
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")] | None = Field(
        default=None, description="Venue name in the warehouse; defaults to exchange."
    )
    sandbox: bool = False
    options: dict[str, Any] = Field(
        default_factory=dict, description="ccxt exchange options, e.g. {defaultType: spot}."
    )
    quote: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$")] | None = Field(
        default=None, description="Quote currency on this exchange for every asset, e.g. USD on Coinbase."
    )
    symbols: dict[str, str] = Field(
        default_factory=dict,
        description="Asset symbol -> this exchange's unified symbol when it differs, e.g. {BTC: XBT/EUR}.",
    )
    rate_limit: bool = Field(default=True, description="ccxt's built-in rate limiter; leave it on.")
    page_limit: Annotated[int, Field(ge=1, le=5000)] | None = Field(
        default=None, description="Candles or trades per request; default: the exchange's maximum."
    )
    api_base: str | None = Field(
        default=None,
        description="Route every API host to <api_base>/<host>/... (a path-routing gateway or the test exchange).",
    )

    @field_validator("exchange")
    @classmethod
    def _known_to_ccxt(cls, exchange: str) -> str:
        return known_ccxt_exchange(exchange)

    @property
    def venue(self) -> str:
        return self.id or self.exchange


class StreamConfig(_Section):
    """``kimera stream``: ccxt.pro watchers writing Parquet micro-batches to KIMERA_HOME/landing."""

    trades: bool = True
    order_books: bool = True
    flush_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=10.0, description="A micro-batch is landed at least this often."
    )
    book_seconds: Annotated[float, Field(gt=0, le=3600)] | None = Field(
        default=None, description="Order-book snapshot spacing; default: exchange.book_interval."
    )
    reconnect_max_s: PositiveFloat = Field(default=30.0, description="Longest wait before reconnecting.")


class FileDump(_Section):
    """Exchange dumps read by ``exchange.source: file`` (glob patterns; Binance CSV, zipped or not, or Parquet)."""

    path: str = Field(
        description="File or glob, e.g. dumps/BTCUSDT-1m-*.zip (relative to the working directory)."
    )
    venue: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")]
    symbol: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}$")]


class ExchangeConfig(_Section):
    source: Literal["sim", "ccxt", "file"] = "sim"
    timeframe: Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"] = "1m"
    ccxt_venues: list[CcxtMarketData] = Field(default_factory=list)
    book_depth: Annotated[int, Field(ge=1, le=500)] = 10
    book_interval: Literal["1m", "5m", "15m", "30m", "1h"] = "5m"
    backfill_gaps: bool = Field(
        default=True, description="Ask again for missing candles before recording a gap."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    files: list[FileDump] = Field(default_factory=list)

    @model_validator(mode="after")
    def _source_needs_its_list(self) -> ExchangeConfig:
        if self.source == "ccxt" and not self.ccxt_venues:
            raise ValueError("source 'ccxt' needs ccxt_venues, e.g. [{exchange: binance}]")
        if self.source == "file" and not self.files:
            raise ValueError(
                "source 'file' needs files, e.g. [{path: dumps/*.zip, venue: binance, symbol: BTC/USDT}]"
            )
        venues = [v.venue for v in self.ccxt_venues]
        if len(set(venues)) != len(venues):
            raise ValueError(f"ccxt venue names must be unique (set id to tell them apart), got {venues}")
        return self


# --- chain and DEX --------------------------------------------------------------------------------
class Token(_Section):
    symbol: str
    address: Address
    decimals: Annotated[int, Field(ge=0, le=36)] = 18
    asset: str | None = Field(default=None, description="The asset it tracks (WETH -> ETH, USDC -> USD).")
    whale_threshold: NonNegativeFloat = Field(default=0.0, description="Token units; 0 means no whale flag.")


class WalletLabel(_Section):
    address: Address
    label: str
    category: Literal["exchange", "bridge", "fund", "other"] = "exchange"


class ChainConfig(_Section):
    source: Literal["sim", "rpc"] = "sim"
    name: str = "ethereum"
    rpc_url: str | None = Field(default=None, description="http(s):// JSON-RPC URL or an IPC socket path.")
    rpc_url_secret: str | None = Field(
        default=None,
        description="Name of a secret holding the URL instead (URLs with an API key are secrets).",
    )
    confirmations: Annotated[int, Field(ge=0, le=1000)] = 12
    chain_id: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="EIP-155 chain id (1 ethereum, 56 bsc, 137 polygon, 43114 avalanche); the RPC must report it.",
    )
    block_time_s: PositiveFloat = Field(
        default=12.0, description="Average seconds per block (ethereum 12, bsc 3, polygon 2, avalanche 2)."
    )
    tokens: list[Token] = Field(default_factory=list)
    exchange_wallets: list[WalletLabel] = Field(default_factory=list)
    log_chunk_blocks: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=2000, description="Blocks per eth_getLogs call to start with; halved on 'too many results'."
    )
    batch_size: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=50, description="Blocks fetched per JSON-RPC batch; 0 sends one request per block."
    )
    reorg_lookback_blocks: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=128, description="Stored blocks whose hashes are checked against the chain before each run."
    )
    retry: RetryConfig = Field(default_factory=lambda: RetryConfig(timeout_s=30.0))

    @model_validator(mode="after")
    def _rpc_needs_url(self) -> ChainConfig:
        if self.source == "rpc" and not (self.rpc_url or self.rpc_url_secret):
            raise ValueError(
                "source 'rpc' needs rpc_url (an http(s):// JSON-RPC URL or IPC path) or rpc_url_secret"
            )
        if self.rpc_url and self.rpc_url.startswith(("ws://", "wss://")):
            raise ValueError("websocket RPC URLs are not supported for ingest; use the http(s):// URL")
        return self


# Forks of Uniswap V2 (same pair, events and router; their own factory, init code hash and fee_bps).
V2_SHAPED = ("uniswap_v2", "sushiswap", "pancakeswap")


class Pool(_Section):
    address: Address
    dex: Literal["uniswap_v2", "uniswap_v3", "sushiswap", "pancakeswap"] = Field(
        default="uniswap_v2",
        description="The protocol: uniswap_v3, or uniswap_v2 or a V2 fork (sushiswap, pancakeswap).",
    )
    token0: str = Field(description="Label of the pool's token0 (checked against the chain).")
    token1: str = Field(description="Label of the pool's token1 (checked against the chain).")
    fee_bps: NonNegativeFloat = 30.0
    chain: str | None = Field(
        default=None, description="The chain (a name in chains:) it lives on; default the first."
    )


class DexConfig(_Section):
    """DEX pools; ``source: rpc`` reads their logs through the chain section's RPC URL."""

    source: Literal["sim", "rpc"] = "sim"
    pools: list[Pool] = Field(default_factory=list)


class LendingMarket(_Section):
    address: Address = Field(
        description="The lending pool (Aave V3: the Pool proxy, from PoolAddressesProvider.getPool();"
        " Compound V3: the Comet proxy of one base asset, e.g. cUSDCv3)."
    )
    protocol: Literal["aave_v3", "compound_v3"] = Field(
        default="aave_v3", description="compound_v3: events only, decoded from Comet's published ABI."
    )
    chain: str | None = Field(
        default=None, description="The chain (a name in chains:) it lives on; default the first."
    )


class LendingConfig(_Section):
    """Lending markets; ``source: rpc`` reads their events through their chain's RPC URL."""

    source: Literal["sim", "rpc"] = "sim"
    markets: list[LendingMarket] = Field(default_factory=list)


# --- the simulator --------------------------------------------------------------------------------
class SimAsset(_Section):
    """The simulated fair price of one asset (see docs/simulator.md)."""

    price: PositiveFloat = Field(description="Fair price in USD at `start`.")
    vol: Annotated[float, Field(gt=0, le=5)] = Field(
        description="Annualised diffusive volatility, e.g. 0.55."
    )
    jumps_per_day: NonNegativeFloat = 0.5
    jump_size: NonNegativeFloat = Field(default=0.015, description="Std of one jump's log size.")


def _default_sim_assets() -> dict[str, SimAsset]:
    return {
        "BTC": SimAsset(price=85_000, vol=0.55, jumps_per_day=0.5, jump_size=0.012),
        "ETH": SimAsset(price=3_200, vol=0.70, jumps_per_day=0.5, jump_size=0.016),
    }


class SimConfig(_Section):
    seed: Annotated[int, Field(ge=0)] = 7
    signal_strength: NonNegativeFloat = Field(
        default=0.0, description="Planted signal strength; 0 is a martingale (nothing predictable)."
    )
    venues: list[SimVenue] = Field(
        default_factory=lambda: [
            SimVenue(id="alpha", spread_bps=1.5, fee_bps=10, depth=1.5, latency_ms=15, dispersion_bps=0.8),
            SimVenue(id="bravo", spread_bps=2.5, fee_bps=8, depth=1.0, latency_ms=40, dispersion_bps=1.2),
            SimVenue(id="charlie", spread_bps=4.0, fee_bps=20, depth=0.6, latency_ms=80, dispersion_bps=2.0),
        ]
    )
    assets: dict[str, SimAsset] = Field(
        default_factory=_default_sim_assets, description="Fair-price parameters per asset symbol."
    )
    trades_per_minute: Annotated[float, Field(gt=0, le=1000)] = 3.0
    block_seconds: Annotated[int, Field(ge=1, le=60)] = 12
    first_block: Annotated[int, Field(ge=1)] = Field(
        default=21_000_000,
        description="Block number at 2026-01-01 00:00 UTC (fixed, so moving `start` never renumbers blocks).",
    )
    exchange_flows_per_hour: Annotated[float, Field(ge=0, le=100_000)] = 20.0
    flow_size_usd: PositiveFloat = 80_000.0
    whales_per_day: Annotated[float, Field(ge=0, le=100_000)] = 4.0
    transfers_per_hour: Annotated[float, Field(ge=0, le=100_000)] = 30.0
    dex_swaps_per_hour: Annotated[float, Field(ge=0, le=100_000)] = 12.0
    dex_arb_lag_seconds: PositiveFloat = 60.0
    pool_tvl_usd: PositiveFloat = 20_000_000.0

    @field_validator("venues")
    @classmethod
    def _unique_venues(cls, venues: list[SimVenue]) -> list[SimVenue]:
        ids = [v.id for v in venues]
        if len(set(ids)) != len(ids):
            raise ValueError(f"venue ids must be unique, got {ids}")
        if len(ids) < 1:
            raise ValueError("at least one venue is needed")
        return venues


# --- ingest (Dagster assets writing raw.*) ---------------------------------------------------------
class IngestConfig(_Section):
    chunk_hours: Annotated[int, Field(ge=1, le=24 * 31)] = Field(
        default=168,
        description="Hours fetched and written per transaction in a ranged run: bounds memory; "
        "fewer, larger transactions write faster (each commit syncs the file).",
    )
    max_retries: Annotated[int, Field(ge=0, le=20)] = Field(
        default=3, description="Retries of a failed ingest step (source or lock errors; bad rows never)."
    )
    retry_delay_s: Annotated[float, Field(ge=0, le=600)] = Field(
        default=2.0, description="First retry delay; doubles on each further retry, with jitter."
    )
    schedule_minute: Annotated[int, Field(ge=0, le=59)] = Field(
        default=5, description="Minute past each hour when the hourly schedule ingests the hour before."
    )


# --- features, models, serving, execution ---------------------------------------------------------
class FeaturesConfig(_Section):
    """The dbt features (``dbt_project/``): bar size, windows and label horizons, passed to dbt as vars."""

    bar: Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"] = "1h"
    horizons: list[Annotated[int, Field(ge=1, le=168)]] = Field(
        default_factory=lambda: [1, 4, 24], description="Label horizons in bars: fwd_ret_<h>, fwd_dir_<h>."
    )
    lookback_bars: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=48,
        description="Late data: an incremental run also rebuilds this many bars before its window.",
    )
    return_lags: list[Annotated[int, Field(ge=1, le=10_000)]] = Field(
        default_factory=lambda: [1, 4, 24], description="Feature ret_<k>: log return over k bars."
    )
    vol_window: Annotated[int, Field(ge=2, le=10_000)] = Field(
        default=24, description="Bars in realised volatility and the volume z-score."
    )
    zscore_window: Annotated[int, Field(ge=2, le=10_000)] = Field(
        default=168, description="Bars in the standardisation of net exchange flow."
    )
    book_levels: Annotated[int, Field(ge=1, le=500)] = Field(
        default=10, description="Order-book levels per side summed into depth and imbalance."
    )
    max_gap_minutes: Annotated[float, Field(gt=0)] = Field(
        default=15.0, description="Raw checks report (without blocking) a series silent for longer than this."
    )

    @field_validator("horizons", "return_lags")
    @classmethod
    def _distinct_sorted(cls, values: list[int]) -> list[int]:
        if not values:
            raise ValueError("at least one value is needed, e.g. [1, 4, 24]")
        if len(set(values)) != len(values):
            raise ValueError(f"values must be distinct, got {values}")
        return sorted(values)


class LstmConfig(_Section):
    hidden: Annotated[int, Field(ge=2, le=1024)] = 32
    layers: Annotated[int, Field(ge=1, le=8)] = 1
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    lr: PositiveFloat = 3e-3
    weight_decay: NonNegativeFloat = 1e-4


class TransformerConfig(_Section):
    d_model: Annotated[int, Field(ge=4, le=1024)] = 32
    heads: Annotated[int, Field(ge=1, le=32)] = 4
    layers: Annotated[int, Field(ge=1, le=12)] = 1
    ff: Annotated[int, Field(ge=4, le=4096)] = 64
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-4

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TransformerConfig:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        return self


class LightGbmConfig(_Section):
    num_leaves: Annotated[int, Field(ge=2, le=1024)] = 15
    learning_rate: PositiveFloat = 0.05
    n_estimators: Annotated[int, Field(ge=1, le=10000)] = 400
    min_child_samples: Annotated[int, Field(ge=1)] = 50
    lags: Annotated[int, Field(ge=1, le=64)] = Field(
        default=3, description="Last bars of the window it sees."
    )


class HpoConfig(_Section):
    trials: Annotated[int, Field(ge=1, le=10000)] = 6
    pruner: Literal["median", "hyperband", "none"] = "median"
    timeout_s: PositiveFloat | None = None
    folds: Annotated[int, Field(ge=1, le=20)] = Field(
        default=2, description="Inner walk-forward folds (inside the training window) a trial is scored on."
    )
    storage: str | None = Field(
        default=None,
        description="Optuna RDB URL; default sqlite under KIMERA_HOME (postgresql+psycopg://... to share trials).",
    )


class ModelsConfig(_Section):
    """Walk-forward training and evaluation of the forecasting models (models/, pipelines/ml/)."""

    horizon: Annotated[int, Field(ge=1, le=168)] = 1
    seq_len: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=24, description="Bars in each input window."
    )
    features: list[str] = Field(
        default_factory=list,
        description="Columns of marts.features to use; empty means every feature column.",
    )
    train_bars: Annotated[int, Field(ge=50)] = Field(default=1200, description="Bars per training window.")
    val_bars: Annotated[int, Field(ge=20)] = Field(
        default=240, description="Tail of each training window held out for early stopping and weights."
    )
    test_bars: Annotated[int, Field(ge=10)] = Field(
        default=240, description="Bars per walk-forward test window."
    )
    embargo_bars: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Extra gap after the horizon+1 purge, before validation and test windows."
    )
    expanding: bool = Field(
        default=True,
        description="Grow the training window from the first bar (train_bars is then its minimum).",
    )
    screen_t: NonNegativeFloat = Field(
        default=4.0,
        description="Members learn from the features whose newest value correlates with the target on "
        "each fold's fit part with |t| >= this (the strongest one if none does); 0 keeps every feature.",
    )
    max_windows: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=3, description="Most recent walk-forward test windows evaluated."
    )
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = Field(default_factory=lambda: [0.1, 0.5, 0.9])
    max_epochs: Annotated[int, Field(ge=1, le=10000)] = 40
    patience: Annotated[int, Field(ge=1, le=1000)] = 5
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 256
    threads: Annotated[int, Field(ge=1, le=256)] = Field(
        default=1,
        description="torch/LightGBM threads; 1 is fastest for these small networks on a shared CPU.",
    )
    fee_bps: NonNegativeFloat = Field(default=10.0, description="Cost per unit of turnover in the backtest.")
    min_edge_bps: NonNegativeFloat | None = Field(
        default=None, description="Trade only when |forecast| exceeds this; default: fee_bps."
    )
    allow_short: bool = True
    lstm: LstmConfig = Field(default_factory=LstmConfig)
    transformer: TransformerConfig = Field(default_factory=TransformerConfig)
    lightgbm: LightGbmConfig = Field(default_factory=LightGbmConfig)
    hpo: HpoConfig = Field(default_factory=HpoConfig)

    @field_validator("quantiles")
    @classmethod
    def _sorted_quantiles(cls, quantiles: list[float]) -> list[float]:
        if len(quantiles) < 2 or sorted(set(quantiles)) != quantiles:
            raise ValueError(f"need at least two strictly increasing quantile levels, got {quantiles}")
        return quantiles

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"need at least one seed and no repeats, got {seeds}")
        return seeds


class PromotionConfig(_Section):
    """The promotion gate: a candidate replaces the served model only if it beats it out of sample."""

    min_bars: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=24,
        description="Labelled bars per asset after both models' training data before they are compared.",
    )
    min_improvement: NonNegativeFloat = Field(
        default=0.0, description="Log-loss (nats per bar) the candidate must gain over the served model."
    )
    z: NonNegativeFloat = Field(
        default=2.326,
        description=(
            "One-sided significance of the paired test, as a normal quantile (2.326: 1 %, 1.645: 5 %; "
            "0 turns the test off): the candidate's log-loss gain must exceed this many standard "
            "errors (Newey-West over bar times, small-sample corrected, Student's t)."
        ),
    )


def _five_field_cron(value: str) -> str:
    if len(value.split()) != 5:
        raise ValueError("expected a 5-field cron string (minute hour day month weekday), e.g. '30 0 * * *'")
    return value


Cron = Annotated[str, AfterValidator(_five_field_cron)]


class RetrainConfig(_Section):
    """When to retrain: on a schedule, when enough new data has landed, when live error drifts."""

    cron: Cron = Field(default="30 0 * * *", description="Daily retrain schedule (UTC cron).")
    min_new_bars: Annotated[int, Field(ge=1)] = Field(
        default=168,
        description="Labelled bars per asset after the served model's data that trigger a retrain.",
    )
    drift_bars: Annotated[int, Field(ge=2)] = Field(
        default=48, description="Newest realised live predictions the drift check scores."
    )
    max_log_loss_increase: PositiveFloat = Field(
        default=0.03,
        description="Retrain when live log loss exceeds the model's walk-forward log loss by this (nats).",
    )


class SignalsConfig(_Section):
    """The signals assets: predictions of the newest bars, and their push to the execution service."""

    model_url: str | None = Field(
        default=None, description="A running model server; default http://<serving.host>:<serving.port>."
    )
    autostart: bool = Field(
        default=True, description="Start the promoted model's server for the run when none answers."
    )
    push: Literal["auto", "required", "off"] = Field(
        default="auto",
        description="auto: push when the execution service answers; required: fail when it does not.",
    )
    execution_url: str | None = Field(
        default=None, description="Execution service; default http://<execution.host>:<execution.port>."
    )
    cron: Cron = Field(default="5 * * * *", description="Signals schedule (UTC cron): after each bar.")
    max_bars: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=168,
        description="Most bars per asset predicted in one run (catching up after a pause); the newest is pushed.",
    )
    timeout_s: PositiveFloat = 10.0


class ServingConfig(_Section):
    """The model server (bentos/), promotion gate, retraining triggers and signals (docs/serving.md)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 3100
    model: Annotated[str, Field(pattern=r"^kimera-[a-z0-9_]+$")] = Field(
        default="kimera-ensemble", description="Store name whose new versions are promotion candidates."
    )
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)

    @property
    def url(self) -> str:
        return self.signals.model_url or f"http://{self.host}:{self.port}"


Fraction = Annotated[float, Field(ge=0, le=1)]


class ExecutionSizing(_Section):
    """Forecast and interval -> target position (see docs/execution.md)."""

    capital: PositiveFloat = Field(default=100_000.0, description="Quote currency the sizing scales to.")
    risk_aversion: PositiveFloat = Field(default=2.0, description="gamma in w = edge / (gamma * sigma^2).")
    interval_z: PositiveFloat = Field(
        default=1.2816, description="z of the forecast interval (80% -> 1.2816)."
    )
    max_leverage: PositiveFloat = Field(default=1.0, description="Cap on |target notional| / capital.")
    cost_hurdle_bps: NonNegativeFloat = Field(default=10.0, description="Edge below this gives no position.")
    min_order_notional: PositiveFloat = Field(default=10.0, description="Smaller changes are not traded.")


class ExecutionRisk(_Section):
    """Pre-trade limits; every refusal is recorded with its reason."""

    max_order_notional: PositiveFloat = 25_000.0
    max_position_notional: PositiveFloat = 50_000.0
    price_band_bps: PositiveFloat = Field(default=50.0, description="Limit price vs reference price.")
    daily_loss_limit: PositiveFloat = Field(
        default=5_000.0, description="Quote; beyond it only reducing orders."
    )
    rate_limit_headroom: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.8, description="Order rate per venue as a fraction of the venue's published limit."
    )


class ExecutionRouting(_Section):
    book_depth: Annotated[int, Field(ge=1, le=500)] = 50
    slice_threshold_notional: PositiveFloat = Field(default=20_000.0, description="Larger orders are sliced.")
    slice_mode: Literal["twap", "iceberg"] = "twap"
    slice_notional: PositiveFloat = 10_000.0
    twap_interval_s: PositiveFloat = 5.0
    max_pool_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.05, description="Largest swap as a fraction of the pool's base reserve."
    )
    slippage_bps: NonNegativeFloat = Field(
        default=10.0, description="Limit price beyond the planned worst level."
    )
    book_max_age_s: PositiveFloat = Field(default=2.0, description="Older books are not routed to.")


class ExecutionOms(_Section):
    venue_timeout_s: PositiveFloat = 2.0
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 6
    backoff_base_s: PositiveFloat = 0.05
    backoff_max_s: PositiveFloat = 2.0
    reconcile_interval_s: PositiveFloat = 5.0
    fill_poll_interval_s: PositiveFloat = 0.2
    unknown_grace_s: PositiveFloat = Field(
        default=1.0, description="A lost order is resent only when the venue has not seen it for this long."
    )
    ack_wait_s: NonNegativeFloat = Field(default=2.0, description="POST /signals waits this long for acks.")


class PaperFaults(_Section):
    """Fault injection of the paper venue server: probabilities per request."""

    seed: int = 11
    timeout: Fraction = Field(default=0.0, description="Answer after the client gave up, then process.")
    lost_answer: Fraction = Field(default=0.0, description="Process, then never answer in time.")
    rate_limited: Fraction = Field(default=0.0, description="429 with Retry-After, not processed.")
    duplicate_fill: Fraction = Field(default=0.0, description="A fill is reported twice.")
    reorder_fills: Fraction = Field(default=0.0, description="A page of fills comes shuffled.")
    delay_s: PositiveFloat = Field(default=3.0, description="How late a timed-out answer comes.")


class PaperVenues(_Section):
    """The paper venue server (its own process, like an exchange): CEX books and AMM pools."""

    url: str = Field(default="http://127.0.0.1:8710", description="Where the service finds it.")
    port: Annotated[int, Field(ge=1, le=65535)] = 8710
    seed: int | None = Field(default=None, description="Defaults to sim.seed.")
    speed: PositiveFloat = Field(default=1.0, description="Market seconds per wall-clock second.")
    replenish_s: PositiveFloat = Field(default=1.0, description="Liquidity we take returns after this.")
    gas_quote: NonNegativeFloat = Field(default=5.0, description="Gas per pool swap, in the quote currency.")
    rate_limit_per_s: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="Override a venue's published order-rate limit."
    )
    faults: PaperFaults = Field(default_factory=PaperFaults)


KeyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,31}$")]
VenueName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]


class PaperVenueRef(_Section):
    """A venue or pool of the paper venue server, by name (alpha, uniswap_v2_weth_usdc, ...)."""

    name: VenueName
    type: Literal["paper"] = "paper"


class CcxtTradingVenue(_Section):
    """Trading on a live exchange through ccxt (``execution.venues``, ``type: ccxt``). Keys only as secrets ``<name>_api_key``, ``<name>_secret``,
    ``<name>_password`` (``KIMERA_SECRET_<NAME>_API_KEY`` ... or files in ``KIMERA_SECRETS_DIR``)."""

    name: VenueName
    type: Literal["ccxt"]
    exchange: str = Field(description="A ccxt exchange id: binance, kraken, okx, ...")
    sandbox: bool = Field(
        default=True, description="The exchange's test network; set false to trade real money."
    )
    symbols: dict[str, str] = Field(
        default_factory=dict,
        description="Asset -> this exchange's unified symbol when it is not the asset's pair.",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="ccxt exchange options.")
    rate_limit: bool = Field(default=True, description="ccxt's built-in request throttle; leave it on.")
    rate_limit_per_s: PositiveFloat | None = Field(
        default=None, description="Published order-rate limit; default: from the exchange's ccxt rateLimit."
    )
    timeout_s: PositiveFloat = Field(
        default=5.0, description="Per request; a write that times out is unknown."
    )
    recv_window_s: Annotated[float, Field(gt=0, le=60)] = Field(
        default=5.0,
        description="Binance-style recvWindow cap: a request arriving later is refused unprocessed.",
    )
    updates_lookback_s: PositiveFloat = Field(
        default=300.0, description="First poll of our trades reaches this far back (later: from the cursor)."
    )
    api_base: str | None = Field(
        default=None,
        description="Route every API host to <api_base>/<host>/... (a gateway or the test exchange).",
    )

    @field_validator("exchange")
    @classmethod
    def _known_to_ccxt(cls, exchange: str) -> str:
        return known_ccxt_exchange(exchange)


class UniswapVenueRef(_Section):
    """A Uniswap pool traded with a local key (secret ``<name>_private_key``): a V2 pool (or fork) through
    Router02, a V3 pool (``dex: uniswap_v3`` in dex.pools) through the SwapRouter."""

    name: VenueName
    type: Literal["uniswap"]
    pool: Address = Field(description="A pool of dex.pools whose tokens are in chain.tokens.")
    router: Address = Field(
        description="UniswapV2Router02 (mainnet 0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D) for a V2 pool; "
        "SwapRouter (mainnet 0xE592427A0AEce92De3Edee1F18E0157C05861564) for a V3 pool."
    )
    chain: str | None = Field(
        default=None,
        description="The chain of its pool where one address is a pool on several chains; default: the first listing it.",
    )
    rpc_url: str | None = Field(default=None, description="JSON-RPC URL; default: chain.rpc_url.")
    rpc_url_secret: str | None = Field(default=None, description="Name of a secret holding the RPC URL.")
    slippage_bps: NonNegativeFloat = Field(
        default=50.0, description="Bound beyond the router's quote (getAmountsIn/Out) at send time."
    )
    deadline_s: PositiveFloat = Field(
        default=120.0, description="The swap reverts when mined later than this."
    )
    gas_multiplier: Annotated[float, Field(ge=1, le=5)] = Field(
        default=1.25, description="Gas limit = estimate x this."
    )
    priority_fee_gwei: NonNegativeFloat = Field(default=1.0, description="EIP-1559 tip per gas.")
    max_fee_gwei: PositiveFloat = Field(default=300.0, description="Never pay more than this per gas.")
    swap_gas: Annotated[int, Field(ge=21_000)] = Field(
        default=130_000, description="Gas units of one swap, for the router's cost estimate."
    )
    native_price: PositiveFloat | None = Field(
        default=None,
        description="Quote per native coin (ETH) for gas; default: this pool's price when it holds WETH.",
    )
    amount_increment: PositiveFloat = Field(default=1e-5, description="Lot size of the base token.")
    rate_limit_per_s: PositiveFloat = Field(default=2.0, description="Swaps per second we allow ourselves.")
    receipt_wait_s: NonNegativeFloat = Field(
        default=2.0, description="place_order waits this long for the receipt, then reports the swap open."
    )
    confirmations: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1, description="Blocks (1 = mined) before a swap counts as filled."
    )
    auto_approve: bool = Field(default=True, description="Approve the router for both tokens when needed.")


VenueRef = Annotated[PaperVenueRef | CcxtTradingVenue | UniswapVenueRef, Field(discriminator="type")]


class ExecutionAuth(_Section):
    """Who may call the service (docs/security.md). Secrets: ``execution_key_<id>``, never here."""

    keys: list[KeyId] = Field(
        default_factory=lambda: ["local"], description="Key ids accepted; several while rotating."
    )
    client_key: KeyId = Field(
        default="local", description="The key id `kimera` commands and the signals push sign with."
    )
    window_s: Annotated[float, Field(ge=1, le=300)] = Field(
        default=30.0, description="A signed request older or newer than this is refused (replay window)."
    )
    signed_reads: bool = Field(
        default=False, description="Require signatures on GETs too (always: a key id)."
    )
    public_paths: list[str] = Field(
        default_factory=lambda: ["/healthz", "/metrics"], description="Paths open without a key."
    )
    public_keys: dict[KeyId, Path] = Field(
        default_factory=dict,
        description="ML-DSA-65 keys: id -> public key PEM file; the service holds no secret for these ids.",
    )
    persist_nonces: bool = Field(
        default=True,
        description="Remember used nonces across restarts (KIMERA_HOME/execution/nonces.sqlite).",
    )

    @model_validator(mode="after")
    def _client_key_accepted(self) -> ExecutionAuth:
        if not self.keys:
            raise ValueError("keys: at least one key id is needed, e.g. [local]")
        if self.client_key not in self.keys:
            raise ValueError(f"client_key {self.client_key!r} is not one of keys {self.keys}")
        stray = sorted(set(self.public_keys) - set(self.keys))
        if stray:
            raise ValueError(
                f"public_keys {stray} are not in keys {self.keys}: add them to keys to accept them"
            )
        return self


class ExecutionAudit(_Section):
    """Signed checkpoints of the audit chain (docs/security.md): anchors kept outside the database."""

    checkpoint_every: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        default=1000, description="Sign the chain's head every this many entries (and at each UTC day's end)."
    )
    checkpoints_path: Path | None = Field(
        default=None,
        description="Append-only file of signed checkpoints; default KIMERA_HOME/audit/checkpoints.jsonl.",
    )


class BridgeModel(_Section):
    """What moving inventory between two chains costs and takes: it nets cross-chain arbitrage (the
    inventory a trade moves must come back some day) and plans rebalancing; no trade waits for it."""

    fixed_quote: NonNegativeFloat = Field(
        default=5.0, description="Quote currency per transfer (gas on both ends)."
    )
    fee_bps: NonNegativeFloat = Field(default=5.0, description="Bridge fee on the notional moved.")
    latency_s: PositiveFloat = Field(
        default=900.0, description="Seconds from sending to funds usable on the other chain."
    )


class ArbitrageConfig(_Section):
    """Cross-chain arbitrage: both legs traded at once from inventory held on each chain."""

    min_net_quote: NonNegativeFloat = Field(
        default=1.0, description="Act only above this profit, net of everything."
    )
    max_amount: PositiveFloat = Field(default=10.0, description="Largest base amount one opportunity trades.")
    bridge: BridgeModel = Field(default_factory=BridgeModel)
    venues: list[str] = Field(
        default_factory=list,
        description="Pool venues (on two or more chains) the service's arbitrage desk watches; empty: no desk.",
    )
    interval_s: PositiveFloat = Field(
        default=1.0, description="Seconds between the desk's looks at the pools."
    )
    inventory: dict[str, dict[str, NonNegativeFloat]] = Field(
        default_factory=dict,
        description="Per chain, what the desk holds at start and aims to hold, e.g. {bsc: {ETH: 5, USDT: 10000}}.",
    )


AccountName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class AccountPortfolioLimits(_Section):
    """Portfolio-level risk of one account, over every strategy and copy book it holds."""

    max_gross_notional: PositiveFloat = Field(default=100_000.0, description="Sum of |position| x mark.")
    max_net_notional: PositiveFloat = Field(default=50_000.0, description="|Sum of signed position x mark|.")
    max_correlated_notional: PositiveFloat = Field(
        default=75_000.0, description="sqrt(x' C x) over the notional vector x and correlations C."
    )
    correlations: dict[str, Annotated[float, Field(ge=-1, le=1)]] = Field(
        default_factory=dict, description="'BTC/ETH': 0.8; pairs not named take default_correlation."
    )
    default_correlation: Annotated[float, Field(ge=-1, le=1)] = Field(
        default=1.0, description="1.0 (no diversification credit) unless the pair is named."
    )
    drawdown_reduce_only: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.05,
        description="Drawdown from the equity high-water mark at which only reducing orders pass.",
    )
    drawdown_pause: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.10, description="Drawdown from the high-water mark at which the account is paused."
    )

    @model_validator(mode="after")
    def _pause_beyond_reduce(self) -> AccountPortfolioLimits:
        if self.drawdown_pause <= self.drawdown_reduce_only:
            raise ValueError(
                f"drawdown_pause {self.drawdown_pause} must be above drawdown_reduce_only {self.drawdown_reduce_only}"
            )
        return self


class AccountCompliance(_Section):
    """Pre-trade compliance of one account (docs/accounts.md)."""

    max_orders_per_s: PositiveFloat = Field(default=20.0, description="New orders per second (burst = 1 s).")
    max_messages_per_s: PositiveFloat = Field(
        default=50.0, description="Every decision, order and cancel the account sends, per second."
    )
    daily_loss_stop: PositiveFloat = Field(
        default=5_000.0, description="Quote; beyond today's loss only reducing orders pass."
    )


class ExecutionAccount(_Section):
    """One trading account: its capital, keys, venue credentials (secret names only) and limits."""

    name: AccountName
    capital: PositiveFloat = 100_000.0
    api_keys: list[KeyId] = Field(default_factory=list, description="Key ids that act for this account.")
    credentials: str | None = Field(
        default=None,
        description="Prefix of the venue secrets (Settings.secret('<prefix>_api_key')); never the secret.",
    )
    risk: ExecutionRisk = Field(default_factory=ExecutionRisk)
    portfolio: AccountPortfolioLimits = Field(default_factory=AccountPortfolioLimits)
    compliance: AccountCompliance = Field(default_factory=AccountCompliance)


class ExecutionStrategy(_Section):
    """A model/horizon/sizing configuration whose signals one account trades with a share of its capital."""

    name: AccountName
    account: AccountName = "default"
    model_tag: str | None = Field(default=None, description="Signals whose model_tag starts with this.")
    horizon: Annotated[int, Field(ge=1)] | None = None
    assets: list[str] | None = Field(
        default=None, min_length=1, description="Only signals for these assets (None: every asset)."
    )
    capital_share: Annotated[float, Field(gt=0, le=1)] = Field(
        default=1.0, description="Fraction of the account's capital the sizing scales to."
    )
    sizing: ExecutionSizing = Field(default_factory=ExecutionSizing)


class CopySubscription(_Section):
    """A follower account copying a leader (a strategy or an account) with an allocation rule."""

    follower: AccountName
    leader: AccountName
    leader_kind: Literal["strategy", "account"] = "strategy"
    rule: Literal["equity_fraction", "fixed_notional", "risk_budget"] = Field(
        default="equity_fraction",
        description="equity_fraction: leader weight x follower equity x value; fixed_notional: leader weight "
        "x value (quote); risk_budget: leader's use of its position limit x follower's limit x value.",
    )
    value: PositiveFloat = 1.0


class ComplianceConfig(_Section):
    """Rules across all our accounts."""

    restricted: list[str] = Field(default_factory=list, description="Assets no account may trade.")
    self_trade: Literal["refuse"] = Field(
        default="refuse", description="An order crossing another of our accounts' resting orders is refused."
    )


def _accounts_consistent(cfg: ExecutionConfig) -> ExecutionConfig:
    """Strategies and followers name accounts and leaders that exist; names are unique."""
    accounts = [a.name for a in cfg.accounts] or ["default"]
    if len(set(accounts)) != len(accounts):
        raise ValueError(f"account names must be unique, got {accounts}")
    strategies = [s.name for s in cfg.strategies]
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"strategy names must be unique, got {strategies}")
    for s in cfg.strategies:
        if s.account not in accounts:
            raise ValueError(f"strategy {s.name!r}: account {s.account!r} is not one of {accounts}")
    for f in cfg.followers:
        if f.follower not in accounts:
            raise ValueError(f"follower {f.follower!r} is not one of the accounts {accounts}")
        known = strategies if f.leader_kind == "strategy" else accounts
        if f.leader not in known:
            raise ValueError(
                f"follower {f.follower!r}: leader {f.leader_kind} {f.leader!r} is not one of {known}"
            )
        if f.leader_kind == "account" and f.leader == f.follower:
            raise ValueError(f"account {f.follower!r} cannot follow itself")
    return cfg


class ExecutionConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8700
    journal_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://...; default KIMERA_HOME/execution/journal.sqlite.",
    )
    journal_synchronous: Literal["full", "normal"] = Field(
        default="full", description="SQLite: full survives power loss; normal survives process crashes."
    )
    venues: list[VenueRef] = Field(
        default_factory=list,
        description="Empty: every paper venue and pool of the paper server; else each {name, type: paper | ccxt | uniswap, ...}.",
    )
    paper: PaperVenues = Field(default_factory=PaperVenues)
    arbitrage: ArbitrageConfig = Field(default_factory=ArbitrageConfig)
    auth: ExecutionAuth = Field(default_factory=ExecutionAuth)
    audit: ExecutionAudit = Field(default_factory=ExecutionAudit)
    sizing: ExecutionSizing = Field(default_factory=ExecutionSizing)
    risk: ExecutionRisk = Field(default_factory=ExecutionRisk)
    routing: ExecutionRouting = Field(default_factory=ExecutionRouting)
    oms: ExecutionOms = Field(default_factory=ExecutionOms)
    accounts: list[ExecutionAccount] = Field(
        default_factory=list, description="Empty: one implicit account 'default' with the risk limits above."
    )
    strategies: list[ExecutionStrategy] = Field(default_factory=list)
    followers: list[CopySubscription] = Field(default_factory=list)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)

    _accounts_ok = model_validator(mode="after")(_accounts_consistent)

    @field_validator("venues")
    @classmethod
    def _unique_venue_names(cls, venues: list[VenueRef]) -> list[VenueRef]:
        names = [v.name for v in venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venue names must be unique, got {names}")
        return venues


class LiveConfig(_Section):
    """``kimera live``, the event-driven loop (docs/live.md)."""

    feed: Literal["sim", "ccxt"] = Field(
        default="sim",
        description="Where events come from: sim (the simulator's stream on the loop's clock) or ccxt "
        "(ccxt.pro trade watchers of exchange.ccxt_venues).",
    )
    speed: Annotated[float, Field(gt=0, le=1_000_000)] = Field(
        default=1.0, description="Sim feed: simulated seconds per wall second (1 is real time)."
    )
    max_model_age_hours: Annotated[float, Field(gt=0)] | None = Field(
        default=72.0,
        description="A model trained longer ago than this before a bar predicts but does not trade.",
    )
    trade: bool = Field(
        default=True, description="Send signals to the execution service (false: predict only)."
    )
    intake: Literal["http", "stream"] = Field(
        default="http",
        description="How signals reach the execution service: http (POST /signals, one request each) "
        "or stream (the GET /signals/stream websocket, MAC'd batches; docs/execution.md).",
    )
    retention_bars: Annotated[int, Field(ge=2, le=100_000)] = Field(
        default=400, description="Bars of model tables the online feature buffer keeps (>= every window)."
    )
    feature_workers: Annotated[int, Field(ge=1, le=64)] = Field(
        default=2,
        description="Feature models run at once when a bar closes (each on its own connection to the "
        "buffer): a bar then takes its longest chain of dependent models, not their sum. 1 runs them "
        "one after another in one transaction.",
    )


class BacktestCandles(_Section):
    """The candle fill model of ``kimera backtest``: venues with candles but no order book (docs/backtest.md)."""

    spread_bps: NonNegativeFloat = Field(
        default=2.0, description="Assumed bid-ask spread; a taker pays half of it on the candle's open."
    )
    participation: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.1,
        description="Most of a candle's volume our orders may take; the rest waits for later candles.",
    )
    impact_bps: NonNegativeFloat = Field(
        default=10.0,
        description="Slippage at the participation cap, linear in the share of the cap an order takes.",
    )
    fee_bps: NonNegativeFloat = Field(
        default=10.0, description="Taker fee of a candle venue that is not a configured sim venue."
    )
    latency_ms: PositiveFloat = Field(
        default=50.0, description="Published latency of a candle venue that is not a configured sim venue."
    )


class BacktestConfig(_Section):
    """``kimera backtest`` (docs/backtest.md)."""

    candles: BacktestCandles = Field(default_factory=BacktestCandles)
    window_days: PositiveFloat | None = Field(
        default=7.0,
        description="Days of raw events the replay reads from the warehouse at a time (a whole number of "
        "bars), so its memory is bounded by this window, not the span; null reads the span at once. "
        "The result does not depend on it (not part of the run id).",
    )
    memory_mb: Annotated[int, Field(ge=64)] = Field(
        default=256,
        description="Memory limit (MB) of each of the replay's DuckDB connections (the feed's and the "
        "features'): it caps the warehouse pages they cache, which DuckDB otherwise keeps up to 80 % of RAM. "
        "Not part of the run id.",
    )


AlertEvent = Literal["fill", "refusal", "kill_switch", "drift", "run_failed", "loop_lag"]
ALERT_EVENTS: tuple[str, ...] = ("fill", "refusal", "kill_switch", "drift", "run_failed", "loop_lag")


def _http_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not accepted: give an http:// or https:// URL")
    return url.rstrip("/")


class WebhookConfig(_Section):
    url: str = Field(description="Where each alert is POSTed as JSON (signed: X-Kimera-Signature).")
    events: list[AlertEvent] | None = Field(default=None, description="Events sent here (default: all).")

    _url = field_validator("url")(_http_url)


class TelegramConfig(_Section):
    url: str = Field(
        default="https://api.telegram.org",
        description="A Telegram-compatible bot API; alerts go to POST <url>/bot<token>/sendMessage.",
    )
    chat_id: str = Field(description="The chat the bot writes to.")
    token_secret: str = Field(
        default="telegram_bot_token", description="Name of the secret holding the bot token (never logged)."
    )
    events: list[AlertEvent] | None = Field(default=None, description="Events sent here (default: all).")

    _url = field_validator("url")(_http_url)


class AlertsConfig(_Section):
    """Alerts (docs/statements.md): fills, refusals, kill switch, drift, failed Dagster runs, live-loop lag."""

    webhooks: list[WebhookConfig] = Field(default_factory=list)
    telegram: TelegramConfig | None = None
    signing_secret: str = Field(
        default="alerts_signing_key", description="Name of the secret that signs every alert (HMAC-SHA256)."
    )
    queue_size: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=1000, description="Alerts waiting to be sent; when full the oldest is dropped (and counted)."
    )
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    backoff_base_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    loop_lag_s: Annotated[float, Field(gt=0)] = Field(
        default=300.0, description="Alert when the live loop's lag (or its heartbeat's age) exceeds this."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks) or self.telegram is not None


class DemoConfig(_Section):
    """``kimera demo`` (docs/demo, README)."""

    paper_day: Literal["live", "replay"] = Field(
        default="live",
        description="How the serve stage paper-trades the held-out day: live (the `kimera live` loop on "
        "the simulator's stream, paced, the paper market following its exchange time) or replay (the "
        "batch predictions pushed bar by bar; the older way, kept as a fallback).",
    )
    paper_speed: Annotated[float, Field(gt=0, le=1_000_000)] = Field(
        default=7200.0, description="Live paper day: simulated seconds per wall second between bars."
    )


class KimeraConfig(_Section):
    """The whole config file."""

    start: date = Field(description="First day of data (partitions start here), UTC.")
    demo_days: Annotated[int, Field(ge=1, le=3660)] = 90
    assets: list[Asset]
    exchange: ExchangeConfig = Field(default_factory=ExchangeConfig)
    chain: ChainConfig = Field(default_factory=ChainConfig)
    chains: list[ChainConfig] = Field(
        default_factory=list,
        description="Several EVM chains instead of one chain:; the first is the primary.",
    )
    dex: DexConfig = Field(default_factory=DexConfig)
    lending: LendingConfig = Field(default_factory=LendingConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    # Set on chain views (kimera.chains): the first chain's view, whose simulated prices all share.
    _world: KimeraConfig | None = PrivateAttr(default=None)

    @property
    def sessions(self) -> dict[str, Calendar]:
        """Each asset's session calendar (kimera.sessions), by symbol: how the gaps check, dbt and
        the models tell a closed session or date from a data gap."""
        from kimera.sessions import session_calendar

        return {a.symbol: session_calendar(a.sessions, a.closed_dates, self.start) for a in self.assets}

    @field_validator("assets")
    @classmethod
    def _assets(cls, assets: list[Asset]) -> list[Asset]:
        if not assets:
            raise ValueError("at least one asset is needed, e.g. [{symbol: BTC}, {symbol: ETH}]")
        symbols = [a.symbol for a in assets]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"asset symbols must be unique, got {symbols}")
        return assets

    @model_validator(mode="before")
    @classmethod
    def _primary_chain(cls, data: Any) -> Any:
        return primary_chain(data)

    @model_validator(mode="after")
    def _pools_on_known_chains(self) -> KimeraConfig:
        check_pool_chains(self)
        return self

    def chain_views(self) -> list[KimeraConfig]:
        """One config per chain of ``chains:`` (``chain`` set to it, ``dex.pools`` cut to its pools);
        ``[self]`` for a single-chain config."""
        return chain_views(self)

    @property
    def start_time(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day)

    @property
    def demo_end(self) -> datetime:
        return self.start_time + timedelta(days=self.demo_days)

    def asset(self, symbol: str) -> Asset:
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise ConfigError(
            f"unknown asset {symbol!r}: configured assets are {[a.symbol for a in self.assets]}"
        )


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or "-" in str(part):
            continue  # pydantic's union/tag markers, not keys the user wrote
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    loc = _format_loc(error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    if kind == "missing":
        return f"{loc} is required but missing"
    if kind == "extra_forbidden":
        return f"{loc} is not a known key (check its spelling against the README's config reference)"
    value = error.get("input")
    return f"{loc} = {value!r} is not accepted: {msg}"


def parse_config(data: dict[str, Any], source: str = "config") -> KimeraConfig:
    """Validate a config mapping; raise ConfigError naming every bad key, its value and what is accepted."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level, got {type(data).__name__}")
    try:
        config = KimeraConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {exc.error_count()} bad value(s):\n  {problems}") from None
    _check_runnable(config, source)
    return config


def _check_runnable(config: KimeraConfig, source: str) -> None:
    """What a run would refuse, refused at load: a bar that is not whole candles. (The simulated
    world a sim source needs is checked where the code location loads: ``connect.sim``.)"""
    bar_s, candle_s = TIMEFRAME_SECONDS[config.features.bar], TIMEFRAME_SECONDS[config.exchange.timeframe]
    if bar_s % candle_s:
        raise ConfigError(
            f"{source}: features.bar = {config.features.bar!r} is not accepted: it must be a whole number "
            f"of exchange.timeframe = {config.exchange.timeframe!r} candles"
        )


def load_config(path: Path | str | None = None, settings: Settings | None = None) -> KimeraConfig:
    """Read and validate the config file (default: ``KIMERA_CONFIG`` or ``kimera.yaml``)."""
    settings = settings or get_settings()
    path = Path(path) if path is not None else settings.config
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found (set KIMERA_CONFIG to its path)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, source=str(path))
