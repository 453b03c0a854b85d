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

    def liquidity(self, start: datetime, end: datetime) -> pa.Table:  # raw.dex_liquidity
        """V3 Mint and Burn events of the configured pools (none for V2 pools)."""


@runtime_checkable
class LendingSource(Protocol):
    """Events and reserve states of the configured lending markets."""

    def chain(self) -> str: ...

    def markets(self) -> list[str]: ...

    def events(self, start: datetime, end: datetime) -> pa.Table:  # raw.lending_events
        ...

    def reserves(self, start: datetime, end: datetime) -> pa.Table:  # raw.lending_reserves
        ...


@runtime_checkable
class ReorgAwareSource(Protocol):
    """A chain-backed source whose stored rows can be checked against the chain and healed.

    ``dataset`` names its entry in ``raw.block_coverage`` (``chain`` or ``dex``); ``tables`` are
    the raw tables it writes by block. See :mod:`pipelines.sources.reorg`.
    """

    dataset: str
    tables: tuple[str, ...]

    def chain(self) -> str: ...

    def window_blocks(self, start: datetime, end: datetime) -> range:
        """Confirmed block numbers whose timestamps lie in ``[start, end)``."""
        ...

    def coverage(self, start: datetime, end: datetime) -> pa.Table:  # raw.block_coverage rows
        ...

    def coverage_between(self, first: int, last: int) -> pa.Table:  # raw.block_coverage rows
        ...

    def canonical_hashes(self, numbers: list[int]) -> dict[int, str]:
        """Hashes the chain has now for ``numbers`` (numbers above the head are absent)."""
        ...

    def heal_scope(self, table: str) -> dict[str, list[str]]:
        """Extra column scope of this source's rows in ``table`` (e.g. its pools)."""
        ...

    def rows_between(self, table: str, first: int, last: int) -> pa.Table:
        """Rows of ``table`` for blocks ``first..last`` inclusive, as the chain has them now."""
        ...
