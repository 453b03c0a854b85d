"""Simulator-backed sources: the default, offline implementations of the three source families.

Each reads the process-wide simulator of its config (``kimera.simulation``), so the exchange,
chain and DEX sources of one config see one world, and conforms the rows to ``kimera.schema``.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from kimera.config import KimeraConfig
from kimera.schema import (
    CHAIN_BLOCKS,
    DEX_LIQUIDITY,
    DEX_POOL_RESERVES,
    DEX_POOLS,
    DEX_SWAPS,
    EXCHANGE_OHLCV,
    EXCHANGE_TRADES,
    LENDING_EVENTS,
    LENDING_RESERVES,
    ORDER_BOOK_SNAPSHOTS,
    TOKEN_TRANSFERS,
    RawTable,
    conform,
)
from kimera.simulation import simulator_from_config
from marketsim import MarketSimulator


class _SimSource:
    def __init__(self, config: KimeraConfig) -> None:
        self.config = config

    @property
    def simulator(self) -> MarketSimulator:
        return simulator_from_config(self.config)

    def _rows(self, table: RawTable, start: datetime, end: datetime) -> pa.Table:
        rows = self.simulator.generate(start, end, tables=[table.name])[table.name]
        return conform(table, rows)


class SimExchangeSource(_SimSource):
    """Candles, public trades and order-book snapshots of the simulated venues (``sim.venues``)."""

    def venues(self) -> list[str]:
        return [v.id for v in self.config.sim.venues]

    def ohlcv(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(EXCHANGE_OHLCV, start, end)

    def trades(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(EXCHANGE_TRADES, start, end)

    def order_books(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(ORDER_BOOK_SNAPSHOTS, start, end)


class SimChainSource(_SimSource):
    """Blocks and ERC-20 transfers of the simulated chain (``chain.name``)."""

    def chain(self) -> str:
        return self.config.chain.name

    def blocks(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(CHAIN_BLOCKS, start, end)

    def transfers(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(TOKEN_TRANSFERS, start, end)


class SimLendingSource(_SimSource):
    """Lending markets of the simulated chain: none yet (``lending.markets`` is for live chains)."""

    def chain(self) -> str:
        return self.config.chain.name

    def markets(self) -> list[str]:
        return []

    def events(self, start: datetime, end: datetime) -> pa.Table:
        return LENDING_EVENTS.empty()

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        return LENDING_RESERVES.empty()


class SimDexSource(_SimSource):
    """Swaps and reserves of the configured pools (``dex.pools``) on the simulated chain."""

    def pools(self) -> pa.Table:
        return conform(DEX_POOLS, self.simulator.reference_tables()["dex_pools"])

    def swaps(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(DEX_SWAPS, start, end)

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        return self._rows(DEX_POOL_RESERVES, start, end)

    def liquidity(self, start: datetime, end: datetime) -> pa.Table:
        return DEX_LIQUIDITY.empty()  # the simulated pools are constant-product: no tick ranges
