"""One interface per source family; implementations are chosen by the config's ``source`` keys.

Every method returns an Arrow table with exactly the columns of its raw table (kimera.schema),
holding the rows whose time column lies in the half-open window ``[start, end)`` (naive UTC).
A source never fabricates rows: data it cannot get is missing (and, for exchanges, recorded as a
gap), never filled in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import pyarrow as pa


@runtime_checkable
class ExchangeSource(Protocol):
    """Centralised-exchange market data for the configured venues and assets."""

    def venues(self) -> list[str]:
        """Venue names this source writes (the scope of its window overwrites)."""
        ...

    def ohlcv(self, start: datetime, end: datetime) -> pa.Table:  # raw.exchange_ohlcv
        ...

    def trades(self, start: datetime, end: datetime) -> pa.Table:  # raw.exchange_trades
        ...

    def order_books(self, start: datetime, end: datetime) -> pa.Table:  # raw.order_book_snapshots
        ...


@runtime_checkable
class ChainSource(Protocol):
    """Blocks and ERC-20 transfers of one chain."""

    def chain(self) -> str: ...

    def blocks(self, start: datetime, end: datetime) -> pa.Table:  # raw.chain_blocks
        ...

    def transfers(self, start: datetime, end: datetime) -> pa.Table:  # raw.token_transfers
        ...


@runtime_checkable
class DexSource(Protocol):
    """Swaps and reserves of the configured pools."""

    def pools(self) -> pa.Table:  # raw.dex_pools (reference)
        ...

    def swaps(self, start: datetime, end: datetime) -> pa.Table:  # raw.dex_swaps
        ...

    def reserves(self, start: datetime, end: datetime) -> pa.Table:  # raw.dex_pool_reserves
        ...
