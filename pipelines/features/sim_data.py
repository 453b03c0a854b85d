"""Fill ``raw.*`` straight from the simulator, without Dagster: for benchmarks and the dbt tests.

The Dagster ingest assets are the way users load data; this is the same source adapters and the
same ``pipelines.warehouse`` writes (idempotent window overwrite, scoped to the source's venues
and chain), minus the orchestration, so a test can build a warehouse in seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from connect.sim import simulator_from_config
from kimera.config import KimeraConfig
from kimera.schema import (
    CHAIN_BLOCKS,
    DEX_POOL_RESERVES,
    DEX_SWAPS,
    EXCHANGE_OHLCV,
    EXCHANGE_TRADES,
    ORDER_BOOK_SNAPSHOTS,
    RAW_TABLES,
    TOKEN_TRANSFERS,
)
from pipelines.sources import make_sources
from pipelines.warehouse import ensure_raw_schema, replace_reference, replace_window


def load_sim_reference(con: duckdb.DuckDBPyConnection, config: KimeraConfig) -> None:
    """Rewrite ``raw.dex_pools``, ``raw.tokens`` and ``raw.wallet_labels`` as the simulated chains have them."""
    ensure_raw_schema(con)
    per_chain = [simulator_from_config(view).reference_tables() for view in config.chain_views()]
    for name in per_chain[0]:
        rows = pa.concat_tables([tables[name] for tables in per_chain])
        replace_reference(con, RAW_TABLES[name], rows)


def load_sim_window(
    con: duckdb.DuckDBPyConnection,
    config: KimeraConfig,
    start: datetime,
    end: datetime,
    chunk: timedelta = timedelta(days=5),
) -> dict[str, int]:
    """Write every partitioned raw table for ``[start, end)`` from the sim sources (the chain tables
    for each chain of ``chains:``); rows written per table."""
    ensure_raw_schema(con)
    sources = make_sources(config)
    venues = {"venue": sources.exchange.venues()}
    feeds = [
        (EXCHANGE_OHLCV, sources.exchange.ohlcv, venues),
        (EXCHANGE_TRADES, sources.exchange.trades, venues),
        (ORDER_BOOK_SNAPSHOTS, sources.exchange.order_books, venues),
    ]
    for view in config.chain_views():
        each = make_sources(view)
        chain = {"chain": [each.chain.chain()]}
        feeds += [
            (CHAIN_BLOCKS, each.chain.blocks, chain),
            (TOKEN_TRANSFERS, each.chain.transfers, chain),
            (DEX_SWAPS, each.dex.swaps, chain),
            (DEX_POOL_RESERVES, each.dex.reserves, chain),
        ]
    written = {table.name: 0 for table, _, _ in feeds}
    lo = start
    while lo < end:
        hi = min(lo + chunk, end)
        for table, fetch, scope in feeds:
            written[table.name] += replace_window(con, table, lo, hi, fetch(lo, hi), scope=scope)
        lo = hi
    return written
