"""The raw-table contract (``raw.*``: columns, Arrow types, natural keys); ``kimera.schema.ml`` holds the ``ml.*`` tables.

Every source (simulator, ccxt, web3 RPC, DEX logs, files) produces rows with exactly these columns
and Arrow types, in this order, so dbt never knows which one fed it. Conventions:

* timestamps are UTC, stored as naive ``TIMESTAMP`` (microseconds);
* ``symbol`` is ccxt's unified form (``BTC/USDT``); ``venue`` is the venue name from the config;
* token amounts are decimal-adjusted ``DOUBLE``; the exact on-chain integer is kept as text
  (``*_raw``) because uint256 does not fit any SQL integer;
* addresses and hashes are lower-case ``0x`` hex text.

Each table is written by idempotent overwrite of a half-open window ``[start, end)`` of its
``time_column``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TS = pa.timestamp("us")


@dataclass(frozen=True)
class RawTable:
    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    time_column: str
    doc: str
    partitioned: bool = True
    # marketsim declares and makes it (False: the sources make it, or live chains only)
    simulated: bool = True

    @property
    def qualified(self) -> str:
        return f"raw.{self.name}"

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    def ddl(self, primary_key: bool = False) -> str:
        """``CREATE TABLE IF NOT EXISTS`` with the contract's columns, types and NOT NULLs.

        The natural key is enforced by the only writer, ``pipelines.warehouse``, on every write
        rather than by a ``PRIMARY KEY``: DuckDB's ART index makes an insert about 6x slower and a
        delete-and-reinsert of a window up to 100x slower. ``primary_key=True`` adds the constraint.
        """
        cols = ",\n  ".join(
            f'"{f.name}" {duckdb_type(f.type)} NOT NULL'
            if not f.nullable
            else f'"{f.name}" {duckdb_type(f.type)}'
            for f in self.schema
        )
        if primary_key:
            cols += ",\n  PRIMARY KEY (" + ", ".join(f'"{k}"' for k in self.key) + ")"
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  {cols}\n)"

    def empty(self) -> pa.Table:
        return self.schema.empty_table()


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    raise TypeError(f"no DuckDB type for Arrow {t}")


def _f(name: str, t: pa.DataType, nullable: bool = False, doc: str = "") -> pa.Field:
    return pa.field(name, t, nullable=nullable, metadata={"doc": doc} if doc else None)


EXCHANGE_OHLCV = RawTable(
    "exchange_ohlcv",
    pa.schema(
        [
            _f("venue", pa.string(), doc="venue name from the config (ccxt exchange id for live venues)"),
            _f("symbol", pa.string(), doc="ccxt unified symbol, BASE/QUOTE"),
            _f("timeframe", pa.string(), doc="bar length: 1m, 5m, 15m, 30m, 1h, 4h, 1d"),
            _f("open_time", TS, doc="bar open, UTC"),
            _f("open", pa.float64()),
            _f("high", pa.float64()),
            _f("low", pa.float64()),
            _f("close", pa.float64()),
            _f("volume", pa.float64(), doc="base-asset volume"),
        ]
    ),
    key=("venue", "symbol", "timeframe", "open_time"),
    time_column="open_time",
    doc="Candles per venue, symbol and timeframe.",
)

EXCHANGE_TRADES = RawTable(
    "exchange_trades",
    pa.schema(
        [
            _f("venue", pa.string()),
            _f("symbol", pa.string()),
            _f("trade_id", pa.string(), doc="the venue's trade id"),
            _f("ts", TS, doc="trade time, UTC"),
            _f("side", pa.string(), doc="taker side: buy or sell"),
            _f("price", pa.float64()),
            _f("amount", pa.float64(), doc="base-asset amount"),
        ]
    ),
    key=("venue", "symbol", "trade_id"),
    time_column="ts",
    doc="Public trades (taker side).",
)

ORDER_BOOK_SNAPSHOTS = RawTable(
    "order_book_snapshots",
    pa.schema(
        [
            _f("venue", pa.string()),
            _f("symbol", pa.string()),
            _f("ts", TS, doc="snapshot time, UTC"),
            _f("side", pa.string(), doc="bid or ask"),
            _f("level", pa.int32(), doc="0 is the best price"),
            _f("price", pa.float64()),
            _f("amount", pa.float64(), doc="base-asset amount at this level"),
        ]
    ),
    key=("venue", "symbol", "ts", "side", "level"),
    time_column="ts",
    doc="Order-book snapshots, one row per side and level.",
)

CHAIN_BLOCKS = RawTable(
    "chain_blocks",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("parent_hash", pa.string()),
            _f("ts", TS, doc="block timestamp, UTC"),
            _f("tx_count", pa.int32()),
            _f(
                "active_addresses",
                pa.int32(),
                doc="distinct senders and recipients of the block's transactions",
            ),
            _f("gas_used", pa.int64()),
            _f("gas_limit", pa.int64()),
            _f("base_fee_gwei", pa.float64(), nullable=True, doc="null before London"),
        ]
    ),
    key=("chain", "block_number"),
    time_column="ts",
    doc="Canonical blocks (confirmed); a reorg replaces the blocks from the fork point.",
)

TOKEN_TRANSFERS = RawTable(
    "token_transfers",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("log_index", pa.int32()),
            _f("ts", TS),
            _f("tx_hash", pa.string()),
            _f("token", pa.string(), doc="token symbol from the config"),
            _f("token_address", pa.string()),
            _f("from_address", pa.string()),
            _f("to_address", pa.string()),
            _f("amount", pa.float64(), doc="decimal-adjusted"),
            _f("amount_raw", pa.string(), doc="the exact uint256 as decimal text"),
        ]
    ),
    key=("chain", "block_number", "log_index"),
    time_column="ts",
    doc="ERC-20 Transfer logs of the configured tokens.",
)

DEX_SWAPS = RawTable(
    "dex_swaps",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("dex", pa.string(), doc="uniswap_v2 or uniswap_v3"),
            _f("pool", pa.string(), doc="pool address"),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("log_index", pa.int32()),
            _f("ts", TS),
            _f("tx_hash", pa.string()),
            _f("sender", pa.string()),
            _f("recipient", pa.string()),
            _f("amount0", pa.float64(), doc="token0 into the pool (negative: out of it), decimal-adjusted"),
            _f("amount1", pa.float64(), doc="token1 into the pool (negative: out of it), decimal-adjusted"),
            _f("price", pa.float64(), doc="token1 per token0 after the swap (from reserves or sqrtPriceX96)"),
            _f("sqrt_price_x96", pa.string(), nullable=True, doc="V3 only"),
            _f("tick", pa.int32(), nullable=True, doc="V3 only"),
        ]
    ),
    key=("chain", "dex", "pool", "block_number", "log_index"),
    time_column="ts",
    doc="Swaps of the configured pools.",
)

DEX_POOL_RESERVES = RawTable(
    "dex_pool_reserves",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("dex", pa.string()),
            _f("pool", pa.string()),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("log_index", pa.int32()),
            _f("ts", TS),
            _f("reserve0", pa.float64(), doc="decimal-adjusted"),
            _f("reserve1", pa.float64(), doc="decimal-adjusted"),
            _f("price", pa.float64(), doc="token1 per token0 = reserve1 / reserve0"),
        ]
    ),
    key=("chain", "dex", "pool", "block_number", "log_index"),
    time_column="ts",
    doc="Pool reserves after each Sync (V2).",
)

# Reference tables: small, unpartitioned, rewritten whole from the config (and the chain, for pools).
DEX_LIQUIDITY = RawTable(
    "dex_liquidity",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("dex", pa.string(), doc="uniswap_v3"),
            _f("pool", pa.string(), doc="pool address"),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("log_index", pa.int32()),
            _f("ts", TS),
            _f("tx_hash", pa.string()),
            _f("event", pa.string(), doc="mint (liquidity added) or burn (removed)"),
            _f("owner", pa.string(), doc="position owner (the position manager for NFT positions)"),
            _f("tick_lower", pa.int32()),
            _f("tick_upper", pa.int32()),
            _f("liquidity", pa.string(), doc="liquidity added or removed, exact uint128"),
            _f("amount0", pa.float64(), doc="token0 paid in (mint) or owed out (burn), decimal-adjusted"),
            _f("amount1", pa.float64(), doc="token1 paid in (mint) or owed out (burn), decimal-adjusted"),
        ]
    ),
    key=("chain", "dex", "pool", "block_number", "log_index"),
    time_column="ts",
    doc="Liquidity added to and removed from tick ranges of V3 pools (Mint and Burn events).",
    simulated=False,  # the simulated pools are constant-product
)

LENDING_EVENTS = RawTable(
    "lending_events",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("protocol", pa.string(), doc="aave_v3 (compound_v3: decoded from its ABI)"),
            _f("market", pa.string(), doc="the lending pool's address"),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("log_index", pa.int32()),
            _f("ts", TS),
            _f("tx_hash", pa.string()),
            _f(
                "event",
                pa.string(),
                doc="supply, withdraw, borrow, repay, liquidation or collateral_absorbed (Compound V3)",
            ),
            _f(
                "reserve",
                pa.string(),
                doc="the asset supplied, withdrawn, borrowed or repaid (liquidation: the debt)",
            ),
            _f("user", pa.string(), doc="whose position changed (liquidation: the borrower liquidated)"),
            _f("caller", pa.string(), doc="who sent it (repayer, liquidator, supplier)"),
            _f("amount", pa.float64(), doc="reserve units, decimal-adjusted (liquidation: debt covered)"),
            _f("collateral_reserve", pa.string(), nullable=True, doc="liquidation only: collateral seized"),
            _f("collateral_amount", pa.float64(), nullable=True, doc="liquidation only, decimal-adjusted"),
            _f(
                "borrow_rate",
                pa.float64(),
                nullable=True,
                doc="borrow only: the rate it was taken at, a fraction per year",
            ),
        ]
    ),
    key=("chain", "protocol", "market", "block_number", "log_index"),
    time_column="ts",
    doc="Supplies, withdrawals, borrows, repayments and liquidations of the configured lending markets.",
    simulated=False,
)

LENDING_RESERVES = RawTable(
    "lending_reserves",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("protocol", pa.string()),
            _f("market", pa.string()),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("log_index", pa.int32()),
            _f("ts", TS),
            _f("reserve", pa.string()),
            _f("supply_rate", pa.float64(), doc="what suppliers earn, a fraction per year"),
            _f("variable_borrow_rate", pa.float64(), doc="a fraction per year"),
            _f("stable_borrow_rate", pa.float64(), doc="a fraction per year"),
            _f("liquidity_index", pa.float64(), doc="supply interest accrued since listing (1 at listing)"),
            _f("variable_borrow_index", pa.float64(), doc="borrow interest accrued since listing"),
            _f("total_supplied", pa.float64(), doc="aToken supply at the end of the block, decimal-adjusted"),
            _f("total_borrowed", pa.float64(), doc="stable + variable debt at the end of the block"),
        ]
    ),
    key=("chain", "protocol", "market", "block_number", "log_index"),
    time_column="ts",
    doc="A reserve's rates and indexes after every action on it (Aave ReserveDataUpdated; Compound V3:"
    " its view functions at the end of each block that moved its base asset).",
    simulated=False,
)

DEX_POOLS = RawTable(
    "dex_pools",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("dex", pa.string()),
            _f("pool", pa.string()),
            _f("token0", pa.string()),
            _f("token1", pa.string()),
            _f("token0_address", pa.string()),
            _f("token1_address", pa.string()),
            _f("decimals0", pa.int32()),
            _f("decimals1", pa.int32()),
            _f("fee_bps", pa.float64()),
        ]
    ),
    key=("chain", "dex", "pool"),
    time_column="",
    doc="Pool metadata, read from the chain once and cached.",
    partitioned=False,
)

TOKENS = RawTable(
    "tokens",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("token", pa.string()),
            _f("token_address", pa.string()),
            _f("decimals", pa.int32()),
            _f("asset", pa.string(), doc="the asset it tracks: WETH -> ETH, USDC -> USD"),
            _f("whale_threshold", pa.float64(), doc="token units; transfers at or above it are whale moves"),
        ]
    ),
    key=("chain", "token"),
    time_column="",
    doc="Configured tokens.",
    partitioned=False,
)

WALLET_LABELS = RawTable(
    "wallet_labels",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("address", pa.string()),
            _f("label", pa.string(), doc="e.g. the exchange's name"),
            _f("category", pa.string(), doc="exchange, bridge, fund or other"),
        ]
    ),
    key=("chain", "address"),
    time_column="",
    doc="Labelled wallets; transfers into and out of exchange wallets are exchange flows.",
    partitioned=False,
)

# Bookkeeping of the live sources: what could not be fetched, which blocks were read, what was loaded.
EXCHANGE_GAPS = RawTable(
    "exchange_gaps",
    pa.schema(
        [
            _f("venue", pa.string()),
            _f("symbol", pa.string()),
            _f("dataset", pa.string(), doc="ohlcv or trades"),
            _f("timeframe", pa.string(), nullable=True, doc="bar length for ohlcv; null for trades"),
            _f("gap_start", TS, doc="first missing bar open (ohlcv) or start of the outage (trades)"),
            _f("gap_end", TS, doc="end of the gap, exclusive"),
            _f("missing", pa.int64(), nullable=True, doc="bars missing when detected; null for trades"),
            _f("recovered", pa.int64(), nullable=True, doc="bars (or trades) recovered by the backfill"),
            _f("status", pa.string(), doc="backfilled, partial or missing (the exchange has no data)"),
            _f("origin", pa.string(), doc="rest (history paging) or stream (a dropped websocket)"),
            _f("detected_at", TS, doc="when the gap was seen, UTC"),
        ]
    ),
    key=("venue", "symbol", "dataset", "gap_start"),
    time_column="gap_start",
    doc="Holes in exchange data: recorded, backfilled where the exchange has the data, never filled in.",
)

BLOCK_COVERAGE = RawTable(
    "block_coverage",
    pa.schema(
        [
            _f("chain", pa.string()),
            _f("dataset", pa.string(), doc="chain (blocks and transfers) or dex (swaps and reserves)"),
            _f("block_number", pa.int64()),
            _f("block_hash", pa.string()),
            _f("ts", TS),
        ]
    ),
    key=("chain", "dataset", "block_number"),
    time_column="ts",
    doc="Every block an RPC ingest read, with its hash: a later hash mismatch is a reorg to heal.",
)

LANDED_FILES = RawTable(
    "landed_files",
    pa.schema(
        [
            _f("file", pa.string(), doc="path under the landing folder"),
            _f("table_name", pa.string(), doc="the raw table it was loaded into"),
            _f("rows", pa.int64()),
            _f("loaded_at", TS),
        ]
    ),
    key=("file",),
    time_column="",
    doc="Landed Parquet micro-batches already loaded (each exactly once).",
    partitioned=False,
)

LIVE_PREDICTIONS = RawTable(
    "live_predictions",
    pa.schema(
        [
            _f("prediction_id", pa.string(), doc="live-<hash of model tag, asset, bar>: the signal id too"),
            _f("model_tag", pa.string()),
            _f("asset", pa.string()),
            _f("feature_time", TS, doc="the bar's close the prediction is for"),
            _f("horizon", pa.int64()),
            _f("forecast", pa.float64()),
            _f("lower", pa.float64()),
            _f("upper", pa.float64()),
            _f("p_up", pa.float64()),
            _f("traded", pa.bool_(), doc="queued as a signal to the execution service"),
            _f("reason", pa.string(), nullable=True, doc="why not traded: gap, stale model, replayed bar"),
            _f("created_at", TS, doc="the loop's clock when it predicted"),
            _f("features_ms", pa.float64(), doc="watermark that closed the bar -> online features"),
            _f("model_ms", pa.float64(), doc="features -> prediction"),
            _f("queue_ms", pa.float64(), doc="prediction -> decision (journaled in the outbox when traded)"),
        ]
    ),
    key=("prediction_id",),
    time_column="feature_time",
    doc="Every prediction of `kimera live`, traded or not, with its stage latencies (landed files).",
    partitioned=False,
)

PARTITIONED_TABLES: tuple[RawTable, ...] = (
    EXCHANGE_OHLCV,
    EXCHANGE_TRADES,
    ORDER_BOOK_SNAPSHOTS,
    CHAIN_BLOCKS,
    TOKEN_TRANSFERS,
    DEX_SWAPS,
    DEX_POOL_RESERVES,
    DEX_LIQUIDITY,
    LENDING_EVENTS,
    LENDING_RESERVES,
)
REFERENCE_TABLES: tuple[RawTable, ...] = (DEX_POOLS, TOKENS, WALLET_LABELS)
RAW_TABLES: dict[str, RawTable] = {t.name: t for t in PARTITIONED_TABLES + REFERENCE_TABLES}
# Bookkeeping written only by the live sources and the landing loader (the simulator has no gaps,
# reorgs or landings); created on first write.
LIVE_TABLES: dict[str, RawTable] = {
    t.name: t for t in (EXCHANGE_GAPS, BLOCK_COVERAGE, LANDED_FILES, LIVE_PREDICTIONS)
}


def conform(table: RawTable, data: pa.Table) -> pa.Table:
    """Return ``data`` with exactly ``table``'s columns, order and types, or raise a clear error.

    Columns may come in any order; missing or extra columns, and values that do not cast safely
    (e.g. text where a number is due), are refused rather than dropped.
    """
    have, want = set(data.column_names), set(table.columns)
    if have != want:
        missing, extra = sorted(want - have), sorted(have - want)
        raise ValueError(
            f"rows for raw.{table.name} do not match its contract: missing columns {missing}, "
            f"unexpected columns {extra}; expected exactly {table.columns}"
        )
    data = data.select(table.columns)
    try:
        return data.cast(table.schema, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"rows for raw.{table.name} have a column of the wrong type: {exc}") from None
