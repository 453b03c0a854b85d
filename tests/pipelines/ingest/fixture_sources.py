"""Small, fully predictable sources for tests that need to control rows exactly.

They implement the source protocols of ``pipelines/sources/base.py`` with a handful of rows per
hour whose values depend on the time and on ``version`` (so a re-ingest with another version
visibly changes rows). Fault injection wraps them, or the real simulator's sources, in
:class:`Faulty`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from kimera import schema
from pipelines.sources import Sources

EPOCH = datetime(2020, 1, 1)


def _steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    first = EPOCH + ((start - EPOCH + step - timedelta(microseconds=1)) // step) * step
    out, t = [], first
    while t < end:
        out.append(t)
        t += step
    return out


def _table(raw: schema.RawTable, columns: dict) -> pa.Table:
    return pa.table(columns).cast(raw.schema) if columns else raw.empty()


class FixtureExchange:
    def __init__(self, venues: list[str], symbols: list[str], version: int = 0) -> None:
        self._venues, self._symbols, self.version = venues, symbols, version

    def venues(self) -> list[str]:
        return list(self._venues)

    def _grid(self, start: datetime, end: datetime, step: timedelta):
        return [(v, s, t) for t in _steps(start, end, step) for v in self._venues for s in self._symbols]

    def ohlcv(self, start: datetime, end: datetime) -> pa.Table:
        grid = self._grid(start, end, timedelta(minutes=1))
        price = np.array([100.0 + (t - EPOCH).total_seconds() % 977 + self.version for _, _, t in grid])
        return _table(
            schema.EXCHANGE_OHLCV,
            {
                "venue": [g[0] for g in grid],
                "symbol": [g[1] for g in grid],
                "timeframe": ["1m"] * len(grid),
                "open_time": [g[2] for g in grid],
                "open": price,
                "high": price + 1,
                "low": price - 1,
                "close": price + 0.5,
                "volume": np.full(len(grid), 2.0),
            },
        )

    def trades(self, start: datetime, end: datetime) -> pa.Table:
        grid = self._grid(start, end, timedelta(minutes=20))
        return _table(
            schema.EXCHANGE_TRADES,
            {
                "venue": [g[0] for g in grid],
                "symbol": [g[1] for g in grid],
                "trade_id": [str(int((g[2] - EPOCH).total_seconds())) for g in grid],
                "ts": [g[2] for g in grid],
                "side": ["buy" if i % 2 else "sell" for i in range(len(grid))],
                "price": [100.0 + self.version + i for i in range(len(grid))],
                "amount": [0.5] * len(grid),
            },
        )

    def order_books(self, start: datetime, end: datetime) -> pa.Table:
        grid = [(v, s, t, side, level) for v, s, t in self._grid(start, end, timedelta(minutes=30))
                for side in ("bid", "ask") for level in (0, 1)]  # fmt: skip
        return _table(
            schema.ORDER_BOOK_SNAPSHOTS,
            {
                "venue": [g[0] for g in grid],
                "symbol": [g[1] for g in grid],
                "ts": [g[2] for g in grid],
                "side": [g[3] for g in grid],
                "level": [g[4] for g in grid],
                "price": [100.0 + self.version + (g[4] + 1) * (1 if g[3] == "ask" else -1) for g in grid],
                "amount": [1.0] * len(grid),
            },
        )


class FixtureChain:
    def __init__(self, chain: str = "ethereum", version: int = 0) -> None:
        self._chain, self.version = chain, version

    def chain(self) -> str:
        return self._chain

    def _blocks(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        return [(int((t - EPOCH).total_seconds()) // 60, t) for t in _steps(start, end, timedelta(minutes=5))]

    def blocks(self, start: datetime, end: datetime) -> pa.Table:
        blocks = self._blocks(start, end)
        return _table(
            schema.CHAIN_BLOCKS,
            {
                "chain": [self._chain] * len(blocks),
                "block_number": [b for b, _ in blocks],
                "block_hash": [f"0x{b:064x}" for b, _ in blocks],
                "parent_hash": [f"0x{b - 1:064x}" for b, _ in blocks],
                "ts": [t for _, t in blocks],
                "tx_count": [10 + self.version] * len(blocks),
                "active_addresses": [7] * len(blocks),
                "gas_used": [1_000_000] * len(blocks),
                "gas_limit": [30_000_000] * len(blocks),
                "base_fee_gwei": [None if b % 2 else 12.5 for b, _ in blocks],
            },
        )

    def transfers(self, start: datetime, end: datetime) -> pa.Table:
        blocks = self._blocks(start, end)
        return _table(
            schema.TOKEN_TRANSFERS,
            {
                "chain": [self._chain] * len(blocks),
                "block_number": [b for b, _ in blocks],
                "block_hash": [f"0x{b:064x}" for b, _ in blocks],
                "log_index": [0] * len(blocks),
                "ts": [t for _, t in blocks],
                "tx_hash": [f"0x{b + 7:064x}" for b, _ in blocks],
                "token": ["WETH"] * len(blocks),
                "token_address": ["0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"] * len(blocks),
                "from_address": ["0x" + "1" * 40] * len(blocks),
                "to_address": ["0x" + "2" * 40] * len(blocks),
                "amount": [1.5 + self.version] * len(blocks),
                "amount_raw": [str(int((1.5 + self.version) * 10**18))] * len(blocks),
            },
        )


class FixtureDex:
    POOL = "0xb4e16d0168e52d35cacd2c6185b44281ec28c9dc"

    def __init__(self, chain: str = "ethereum", version: int = 0) -> None:
        self._chain, self.version = chain, version

    def pools(self) -> pa.Table:
        return _table(
            schema.DEX_POOLS,
            {
                "chain": [self._chain],
                "dex": ["uniswap_v2"],
                "pool": [self.POOL],
                "token0": ["USDC"],
                "token1": ["WETH"],
                "token0_address": ["0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"],
                "token1_address": ["0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"],
                "decimals0": [6],
                "decimals1": [18],
                "fee_bps": [30.0],
            },
        )

    def _events(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        return [
            (int((t - EPOCH).total_seconds()) // 60, t) for t in _steps(start, end, timedelta(minutes=15))
        ]

    def swaps(self, start: datetime, end: datetime) -> pa.Table:
        events = self._events(start, end)
        n = len(events)
        return _table(
            schema.DEX_SWAPS,
            {
                "chain": [self._chain] * n,
                "dex": ["uniswap_v2"] * n,
                "pool": [self.POOL] * n,
                "block_number": [b for b, _ in events],
                "block_hash": [f"0x{b:064x}" for b, _ in events],
                "log_index": [3] * n,
                "ts": [t for _, t in events],
                "tx_hash": [f"0x{b + 9:064x}" for b, _ in events],
                "sender": ["0x" + "3" * 40] * n,
                "recipient": ["0x" + "4" * 40] * n,
                "amount0": [-2000.0] * n,
                "amount1": [1.0 + self.version] * n,
                "price": [0.0005] * n,
                "sqrt_price_x96": [None] * n,
                "tick": [None] * n,
            },
        )

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        events = self._events(start, end)
        n = len(events)
        return _table(
            schema.DEX_POOL_RESERVES,
            {
                "chain": [self._chain] * n,
                "dex": ["uniswap_v2"] * n,
                "pool": [self.POOL] * n,
                "block_number": [b for b, _ in events],
                "block_hash": [f"0x{b:064x}" for b, _ in events],
                "log_index": [2] * n,
                "ts": [t for _, t in events],
                "reserve0": [1e7] * n,
                "reserve1": [5000.0 + self.version] * n,
                "price": [(5000.0 + self.version) / 1e7] * n,
            },
        )

    def liquidity(self, start: datetime, end: datetime) -> pa.Table:
        events = self._events(start, end)
        n = len(events)
        return _table(
            schema.DEX_LIQUIDITY,
            {
                "chain": [self._chain] * n,
                "dex": ["uniswap_v3"] * n,
                "pool": [self.POOL] * n,
                "block_number": [b for b, _ in events],
                "block_hash": [f"0x{b:064x}" for b, _ in events],
                "log_index": [5] * n,
                "ts": [t for _, t in events],
                "tx_hash": [f"0x{b + 11:064x}" for b, _ in events],
                "event": ["mint"] * n,
                "owner": ["0x" + "5" * 40] * n,
                "tick_lower": [-600] * n,
                "tick_upper": [600] * n,
                "liquidity": [str(10**21 + self.version)] * n,
                "amount0": [1000.0] * n,
                "amount1": [0.5 + self.version] * n,
            },
        )


def _ordered(raw: schema.RawTable, columns: dict) -> pa.Table:
    return _table(raw, {name: columns[name] for name in raw.columns})


class FixtureLending:
    MARKET = "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2"
    RESERVE = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"

    def __init__(self, chain: str = "ethereum", version: int = 0) -> None:
        self._chain, self.version = chain, version

    def chain(self) -> str:
        return self._chain

    def markets(self) -> list[str]:
        return [self.MARKET]

    def _events(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        return [
            (int((t - EPOCH).total_seconds()) // 60, t) for t in _steps(start, end, timedelta(minutes=30))
        ]

    def _common(self, events) -> dict:
        n = len(events)
        return {"chain": [self._chain] * n, "protocol": ["aave_v3"] * n, "market": [self.MARKET] * n,
                "block_number": [b for b, _ in events], "block_hash": [f"0x{b:064x}" for b, _ in events],
                "ts": [t for _, t in events], "reserve": [self.RESERVE] * n}  # fmt: skip

    def events(self, start: datetime, end: datetime) -> pa.Table:
        events = self._events(start, end)
        n = len(events)
        return _ordered(schema.LENDING_EVENTS, {
            **self._common(events), "log_index": [7] * n, "tx_hash": [f"0x{b + 13:064x}" for b, _ in events],
            "event": ["borrow"] * n, "user": ["0x" + "6" * 40] * n, "caller": ["0x" + "6" * 40] * n,
            "amount": [1000.0 + self.version] * n, "collateral_reserve": [None] * n, "collateral_amount": [None] * n,
            "borrow_rate": [0.05] * n})  # fmt: skip

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        events = self._events(start, end)
        n = len(events)
        return _ordered(schema.LENDING_RESERVES, {
            **self._common(events), "log_index": [6] * n, "supply_rate": [0.02] * n,
            "variable_borrow_rate": [0.05 + self.version / 100] * n, "stable_borrow_rate": [0.07] * n,
            "liquidity_index": [1.01] * n, "variable_borrow_index": [1.02] * n, "total_supplied": [1e6] * n,
            "total_borrowed": [4e5] * n})  # fmt: skip


def fixture_sources(
    venues: tuple[str, ...] = ("alpha", "bravo"), symbols: tuple[str, ...] = ("BTC/USDT",), version: int = 0
) -> Sources:
    return Sources(
        exchange=FixtureExchange(list(venues), list(symbols), version),
        chain=FixtureChain(version=version),
        dex=FixtureDex(version=version),
        lending=FixtureLending(version=version),
    )


class Faulty:
    """Wraps a source; ``faults`` maps a method name to a function that replaces its result.

    The function receives the call count (1 for the first call) and the real result; it may raise
    (a source failing) or return other rows (a source returning bad rows). Every call's arguments
    are recorded in ``calls[name]``.
    """

    def __init__(self, inner: object, **faults: Callable[[int, object], object]) -> None:
        self._inner, self._faults = inner, faults
        self.calls: dict[str, list[tuple]] = {}

    def __getattr__(self, name: str):
        real = getattr(self._inner, name)
        if name.startswith("_") or not callable(real):
            return real

        def call(*args, **kwargs):
            made = self.calls.setdefault(name, [])
            made.append(args)
            result = real(*args, **kwargs)
            fault = self._faults.get(name)
            return result if fault is None else fault(len(made), result)

        return call
