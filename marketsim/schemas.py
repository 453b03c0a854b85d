"""Arrow schemas of the simulator's output: the columns, order and types of Kimera's raw tables.

Declared here so that ``marketsim`` imports nothing of the project; a test asserts that each one
equals ``kimera.schema``'s. Timestamps are naive UTC microseconds; addresses and hashes are
lower-case ``0x`` hex; token amounts are decimal-adjusted with the exact integer as text.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us")


def _schema(*fields: tuple[str, pa.DataType] | tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(f[0], f[1], nullable=f[2] if len(f) > 2 else False) for f in fields])


EXCHANGE_OHLCV = _schema(
    ("venue", pa.string()),
    ("symbol", pa.string()),
    ("timeframe", pa.string()),
    ("open_time", TS),
    ("open", pa.float64()),
    ("high", pa.float64()),
    ("low", pa.float64()),
    ("close", pa.float64()),
    ("volume", pa.float64()),
)
EXCHANGE_TRADES = _schema(
    ("venue", pa.string()),
    ("symbol", pa.string()),
    ("trade_id", pa.string()),
    ("ts", TS),
    ("side", pa.string()),
    ("price", pa.float64()),
    ("amount", pa.float64()),
)
ORDER_BOOK_SNAPSHOTS = _schema(
    ("venue", pa.string()),
    ("symbol", pa.string()),
    ("ts", TS),
    ("side", pa.string()),
    ("level", pa.int32()),
    ("price", pa.float64()),
    ("amount", pa.float64()),
)
CHAIN_BLOCKS = _schema(
    ("chain", pa.string()),
    ("block_number", pa.int64()),
    ("block_hash", pa.string()),
    ("parent_hash", pa.string()),
    ("ts", TS),
    ("tx_count", pa.int32()),
    ("active_addresses", pa.int32()),
    ("gas_used", pa.int64()),
    ("gas_limit", pa.int64()),
    ("base_fee_gwei", pa.float64(), True),
)
TOKEN_TRANSFERS = _schema(
    ("chain", pa.string()),
    ("block_number", pa.int64()),
    ("block_hash", pa.string()),
    ("log_index", pa.int32()),
    ("ts", TS),
    ("tx_hash", pa.string()),
    ("token", pa.string()),
    ("token_address", pa.string()),
    ("from_address", pa.string()),
    ("to_address", pa.string()),
    ("amount", pa.float64()),
    ("amount_raw", pa.string()),
)
DEX_SWAPS = _schema(
    ("chain", pa.string()),
    ("dex", pa.string()),
    ("pool", pa.string()),
    ("block_number", pa.int64()),
    ("block_hash", pa.string()),
    ("log_index", pa.int32()),
    ("ts", TS),
    ("tx_hash", pa.string()),
    ("sender", pa.string()),
    ("recipient", pa.string()),
    ("amount0", pa.float64()),
    ("amount1", pa.float64()),
    ("price", pa.float64()),
    ("sqrt_price_x96", pa.string(), True),
    ("tick", pa.int32(), True),
)
DEX_POOL_RESERVES = _schema(
    ("chain", pa.string()),
    ("dex", pa.string()),
    ("pool", pa.string()),
    ("block_number", pa.int64()),
    ("block_hash", pa.string()),
    ("log_index", pa.int32()),
    ("ts", TS),
    ("reserve0", pa.float64()),
    ("reserve1", pa.float64()),
    ("price", pa.float64()),
)
DEX_POOLS = _schema(
    ("chain", pa.string()),
    ("dex", pa.string()),
    ("pool", pa.string()),
    ("token0", pa.string()),
    ("token1", pa.string()),
    ("token0_address", pa.string()),
    ("token1_address", pa.string()),
    ("decimals0", pa.int32()),
    ("decimals1", pa.int32()),
    ("fee_bps", pa.float64()),
)
TOKENS = _schema(
    ("chain", pa.string()),
    ("token", pa.string()),
    ("token_address", pa.string()),
    ("decimals", pa.int32()),
    ("asset", pa.string()),
    ("whale_threshold", pa.float64()),
)
WALLET_LABELS = _schema(
    ("chain", pa.string()),
    ("address", pa.string()),
    ("label", pa.string()),
    ("category", pa.string()),
)

# name -> (schema, time column); the seven tables ``MarketSimulator.generate`` returns.
PARTITIONED: dict[str, tuple[pa.Schema, str]] = {
    "exchange_ohlcv": (EXCHANGE_OHLCV, "open_time"),
    "exchange_trades": (EXCHANGE_TRADES, "ts"),
    "order_book_snapshots": (ORDER_BOOK_SNAPSHOTS, "ts"),
    "chain_blocks": (CHAIN_BLOCKS, "ts"),
    "token_transfers": (TOKEN_TRANSFERS, "ts"),
    "dex_swaps": (DEX_SWAPS, "ts"),
    "dex_pool_reserves": (DEX_POOL_RESERVES, "ts"),
}
REFERENCE: dict[str, pa.Schema] = {"dex_pools": DEX_POOLS, "tokens": TOKENS, "wallet_labels": WALLET_LABELS}
SCHEMAS: dict[str, pa.Schema] = {**{k: v[0] for k, v in PARTITIONED.items()}, **REFERENCE}
