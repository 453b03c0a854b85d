"""Which source method feeds each raw table, and which rows a source owns (its scope).

A source's write replaces only its own scope (its venues, its chain, its pools), so two sources
feeding the same table, say the simulator and a file import, never delete each other's rows.
Adding a table is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from kimera import schema
from kimera.config import KimeraConfig
from kimera.schema import RawTable
from pipelines.sources import Sources

Family = Literal["exchange", "chain", "dex", "lending"]
Scope = dict[str, list[Any]]


@dataclass(frozen=True)
class Feed:
    """A partitioned raw table and the source call that fills a window of it."""

    table: RawTable
    family: Family
    fetch: Callable[[Sources, datetime, datetime], pa.Table]

    def scope(self, sources: Sources) -> Scope:
        return SCOPES[self.family](sources)


def _distinct(table: pa.Table, column: str) -> list[Any]:
    return sorted(pc.unique(table[column]).to_pylist()) if table.num_rows else []


def _dex_scope(sources: Sources) -> Scope:
    pools = sources.dex.pools()
    return {"chain": [sources.chain.chain()], "pool": _distinct(pools, "pool")}


SCOPES: dict[Family, Callable[[Sources], Scope]] = {
    "exchange": lambda s: {"venue": list(s.exchange.venues())},
    "chain": lambda s: {"chain": [s.chain.chain()]},
    "dex": _dex_scope,
    "lending": lambda s: {"chain": [s.lending.chain()], "market": sorted(s.lending.markets())},
}

FEEDS: dict[str, Feed] = {
    feed.table.name: feed
    for feed in (
        Feed(schema.EXCHANGE_OHLCV, "exchange", lambda s, a, b: s.exchange.ohlcv(a, b)),
        Feed(schema.EXCHANGE_TRADES, "exchange", lambda s, a, b: s.exchange.trades(a, b)),
        Feed(schema.ORDER_BOOK_SNAPSHOTS, "exchange", lambda s, a, b: s.exchange.order_books(a, b)),
        Feed(schema.CHAIN_BLOCKS, "chain", lambda s, a, b: s.chain.blocks(a, b)),
        Feed(schema.TOKEN_TRANSFERS, "chain", lambda s, a, b: s.chain.transfers(a, b)),
        Feed(schema.DEX_SWAPS, "dex", lambda s, a, b: s.dex.swaps(a, b)),
        Feed(schema.DEX_POOL_RESERVES, "dex", lambda s, a, b: s.dex.reserves(a, b)),
        Feed(schema.DEX_LIQUIDITY, "dex", lambda s, a, b: s.dex.liquidity(a, b)),
        Feed(schema.LENDING_EVENTS, "lending", lambda s, a, b: s.lending.events(a, b)),
        Feed(schema.LENDING_RESERVES, "lending", lambda s, a, b: s.lending.reserves(a, b)),
    )
}
assert set(FEEDS) == {t.name for t in schema.PARTITIONED_TABLES}, "every partitioned raw table needs a feed"


# --- reference tables: small, unpartitioned, rewritten whole for the source's chain -----------------
@dataclass(frozen=True)
class ReferenceFeed:
    """A reference table and where its rows come from: a source family, or the config file itself."""

    table: RawTable
    origin: Family | Literal["config"]
    rows: Callable[[KimeraConfig, Sources], pa.Table]


def _tokens(config: KimeraConfig, sources: Sources) -> pa.Table:
    chain = sources.chain.chain()
    tokens = config.chain.tokens
    return pa.table(
        {
            "chain": [chain] * len(tokens),
            "token": [t.symbol for t in tokens],
            "token_address": [t.address.lower() for t in tokens],
            "decimals": [t.decimals for t in tokens],
            "asset": [t.asset or t.symbol for t in tokens],
            "whale_threshold": [float(t.whale_threshold) for t in tokens],
        }
    )


def _wallet_labels(config: KimeraConfig, sources: Sources) -> pa.Table:
    chain = sources.chain.chain()
    wallets = config.chain.exchange_wallets
    return pa.table(
        {
            "chain": [chain] * len(wallets),
            "address": [w.address.lower() for w in wallets],
            "label": [w.label for w in wallets],
            "category": [w.category for w in wallets],
        }
    )


REFERENCE_FEEDS: dict[str, ReferenceFeed] = {
    feed.table.name: feed
    for feed in (
        ReferenceFeed(schema.DEX_POOLS, "dex", lambda config, s: s.dex.pools()),
        ReferenceFeed(schema.TOKENS, "config", _tokens),
        ReferenceFeed(schema.WALLET_LABELS, "config", _wallet_labels),
    )
}
assert set(REFERENCE_FEEDS) == {t.name for t in schema.REFERENCE_TABLES}, "every reference table needs a feed"
