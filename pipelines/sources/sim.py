"""Simulator-backed sources: the default, offline implementations of the three source families.

Each reads the process-wide simulator of its config (``connect.sim``), so the exchange,
chain and DEX sources of one config see one world, and conforms the rows to ``kimera.schema``.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from connect.sim import simulator_from_config
from kimera.config import KimeraConfig
from kimera.schema import (
    CHAIN_BLOCKS,
    DEX_LIQUIDITY,
    DEX_POOL_RESERVES,
    DEX_POOLS,
    DEX_SWAPS,
    EXCHANGE_OHLCV,
    EXCHANGE_TRADES,
    ORDER_BOOK_SNAPSHOTS,
    TOKEN_TRANSFERS,
    RawTable,
    conform,
)
from marketsim import MarketSimulator
from pipelines.sources.sim_lending import MARKET, lending_rows


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
    """The simulated chain's lending pool (:mod:`pipelines.sources.sim_lending`), over its tokens."""

    def chain(self) -> str:
        return self.config.chain.name

    def markets(self) -> list[str]:
        return [MARKET]

    def _tables(self, start: datetime, end: datetime) -> tuple[pa.Table, pa.Table]:
        reference = self.simulator.reference_tables()
        tokens = [t for t in reference["tokens"].to_pylist() if t["chain"] == self.chain()]
        labelled = sorted(w["address"] for w in reference["wallet_labels"].to_pylist())
        config = self.config
        return lending_rows(
            self.simulator, tokens, labelled, self.chain(), config.sim.seed, config.start_time, start, end
        )

    def events(self, start: datetime, end: datetime) -> pa.Table:
        return self._tables(start, end)[0]

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        return self._tables(start, end)[1]


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
