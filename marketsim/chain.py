"""One day of the chain: blocks, and the logs in them (transfers, swaps, syncs) with their order.

Slots are ``block_seconds`` apart from the epoch; block ``first_block + k`` sits at slot k. A
block's hash is a hash of its number, so the parent-hash chain holds across any split of time.
Inside a block, plain transfers come first (each its own transaction), then swap transactions,
whose logs are laid out as on mainnet: Uniswap V2 ``Transfer(in) Transfer(out) Sync Swap``,
V3 ``Transfer(out) Transfer(in) Swap``. The base fee follows EIP-1559 exactly: block k's gas use
is what moves the base fee from block k to block k+1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from marketsim import encode
from marketsim.clock import Blocks
from marketsim.dex import PoolDay
from marketsim.flows import Transfers, units_exponent
from marketsim.keyed import hash_uniform, hash_words, stream_key
from marketsim.latent import LatentDay, interpolate
from marketsim.schemas import CHAIN_BLOCKS, DEX_POOL_RESERVES, DEX_SWAPS, TOKEN_TRANSFERS
from marketsim.spec import SimSpec
from marketsim.wallets import AddressBook

BASE_FEE_JITTER = 0.03  # per-block log jitter of the base fee around its smooth path
GAS_PER_TX = (70_000.0, 60_000.0)  # a block's average gas per transaction: low + U(0, 1) * span
ACTIVE_PER_TX = (1.2, 0.5)  # distinct addresses per transaction: low + U(0, 1) * span


@dataclass
class ChainDay:
    spec: SimSpec
    book: AddressBook
    blocks: Blocks
    plain: Transfers
    pools: list[PoolDay]
    latent: LatentDay
    next_base_fee: float | None  # smooth log base fee at the first slot after the day, if past midnight

    # --- ordering of transactions and logs --------------------------------------------------------
    @cached_property
    def _layout(self) -> dict[str, np.ndarray]:
        n_plain = len(self.plain)
        swap_block = np.concatenate([p.block for p in self.pools]) if self.pools else np.zeros(0, np.int64)
        swap_pool = (
            np.concatenate([np.full(len(p), p.pool) for p in self.pools])
            if self.pools
            else np.zeros(0, np.int64)
        )
        swap_seq = np.concatenate([p.seq for p in self.pools]) if self.pools else np.zeros(0, np.int64)
        v3 = np.array([p.dex == "uniswap_v3" for p in self.spec.pools] + [False], dtype=bool)
        block = np.concatenate([self.plain.block, swap_block])
        # one sort key: block, then plain transfers (in their random order) before swaps (pool, seq)
        swap_rank = (swap_pool * (len(swap_seq) + 1) + swap_seq + 1) / (
            (len(self.spec.pools) + 1) * (len(swap_seq) + 1)
        )
        key = 2.0 * block + np.concatenate([self.plain.order, 1.0 + swap_rank])
        logs = np.concatenate([np.ones(n_plain, np.int64), np.where(v3[swap_pool], 3, 4)])
        order = np.argsort(key)
        sorted_block = block[order]
        first = np.searchsorted(sorted_block, sorted_block, side="left")
        before = np.cumsum(logs[order]) - logs[order]
        log_start = np.empty(len(block), np.int64)
        rank = np.empty(len(block), np.int64)
        log_start[order] = before - before[first]
        rank[order] = np.arange(len(block)) - first
        return {
            "block": block,
            "log_start": log_start,
            "rank": rank,
            "v3": v3[swap_pool],
            "n_plain": np.array(n_plain),
        }

    @cached_property
    def _block_hashes(self) -> pa.StringArray:
        """Hashes of blocks k0-1 .. k1-1: [1:] are this day's, [:-1] their parents'."""
        numbers = self.spec.first_block + np.arange(self.blocks.k0 - 1, self.blocks.k1, dtype=np.int64)
        counters = numbers[:, None] * 4 + np.arange(4)
        return encode.hex_strings(hash_words(stream_key(self.spec.seed, "block-hash"), counters), 32)

    @cached_property
    def _tx_hashes(self) -> pa.StringArray:
        lay = self._layout
        number = self.blocks.numbers[lay["block"]]
        counters = ((number * 65_536 + lay["rank"]) * 4)[:, None] + np.arange(4)
        return encode.hex_strings(hash_words(stream_key(self.spec.seed, "tx-hash"), counters), 32)

    # --- tables ------------------------------------------------------------------------------------
    def blocks_table(self) -> pa.Table:
        spec, blocks = self.spec, self.blocks
        nb = blocks.count
        numbers = spec.first_block + np.arange(blocks.k0, blocks.k1 + 1, dtype=np.int64)
        minutes = (blocks.seconds_in_day / 60.0).astype(np.float64)
        smooth = np.empty(nb + 1)
        smooth[:nb] = interpolate(self.latent.log_base_fee, minutes)
        end_minute = (blocks.k1 * spec.block_seconds - blocks.day * 86_400) / 60.0
        smooth[nb] = (
            self.next_base_fee
            if self.next_base_fee is not None
            else interpolate(self.latent.log_base_fee, np.array([end_minute]))[0]
        )
        key = stream_key(spec.seed, "block-fields")
        jitter = BASE_FEE_JITTER * (2.0 * hash_uniform(key, numbers * 4) - 1.0)
        base_fee = np.exp(smooth + jitter)  # gwei, blocks k0 .. k1
        target = spec.gas_limit / 2
        gas_used = np.clip(
            np.rint(target * (1.0 + 8.0 * (base_fee[1:] / base_fee[:-1] - 1.0))), 0, spec.gas_limit
        ).astype(np.int64)
        ours = np.bincount(self._layout["block"], minlength=nb)
        per_tx = GAS_PER_TX[0] + GAS_PER_TX[1] * hash_uniform(key, numbers[:-1] * 4 + 1)
        tx_count = np.maximum(ours, np.rint(gas_used / per_tx).astype(np.int64))
        active = np.minimum(
            np.rint(
                tx_count * (ACTIVE_PER_TX[0] + ACTIVE_PER_TX[1] * hash_uniform(key, numbers[:-1] * 4 + 2))
            ),
            2 * tx_count,
        )
        hashes = self._block_hashes
        columns = [
            encode.repeat(spec.chain, nb),
            pa.array(numbers[:-1]),
            hashes.slice(1),
            hashes.slice(0, nb),
            encode.timestamps(blocks.micros),
            pa.array(tx_count.astype(np.int32)),
            pa.array(active.astype(np.int32)),
            pa.array(gas_used),
            pa.array(np.full(nb, spec.gas_limit, dtype=np.int64)),
            pa.array(np.round(base_fee[:-1], 9)),
        ]
        return pa.Table.from_arrays(columns, schema=CHAIN_BLOCKS)

    def _swap_rows(self) -> dict[str, np.ndarray]:
        """Per swap (in layout order after the plain transfers): pool, amounts, reserves, parties."""
        if not self.pools:
            z = np.zeros(0, np.int64)
            return {k: z for k in ("pool", "amount0", "amount1", "units0", "units1", "trader", "sender")}
        return {
            "pool": np.concatenate([np.full(len(p), p.pool) for p in self.pools]),
            "amount0": np.concatenate([p.amount0 for p in self.pools]),
            "amount1": np.concatenate([p.amount1 for p in self.pools]),
            "units0": np.concatenate([p.units0 for p in self.pools]),
            "units1": np.concatenate([p.units1 for p in self.pools]),
            "trader": np.concatenate([p.trader for p in self.pools]),
            "sender": np.concatenate([p.sender for p in self.pools]),
        }

    def transfers_table(self) -> pa.Table:
        spec, book, lay = self.spec, self.book, self._layout
        n_plain = int(lay["n_plain"])
        sw = self._swap_rows()
        n_swaps = len(sw["pool"])
        tokens = {t.symbol: i for i, t in enumerate(spec.tokens)}
        pool_token0 = np.array([tokens[p.token0] for p in spec.pools] + [0], dtype=np.int64)
        pool_token1 = np.array([tokens[p.token1] for p in spec.pools] + [0], dtype=np.int64)
        pool_address = np.array([book.pool[p.address.lower()] for p in spec.pools] + [0], dtype=np.int64)
        zero_in = sw["amount0"] > 0  # token0 goes into the pool
        token_in = np.where(zero_in, pool_token0[sw["pool"]], pool_token1[sw["pool"]])
        token_out = np.where(zero_in, pool_token1[sw["pool"]], pool_token0[sw["pool"]])
        units_in = np.where(zero_in, sw["amount0"], sw["amount1"])
        units_out = -np.where(zero_in, sw["amount1"], sw["amount0"])
        pool_addr = pool_address[sw["pool"]]
        swap_tx = n_plain + np.arange(n_swaps)
        start = lay["log_start"][swap_tx]
        v3 = lay["v3"]
        in_index = start + np.where(v3, 1, 0)
        out_index = start + np.where(v3, 0, 1)

        tx = np.concatenate([np.arange(n_plain), swap_tx, swap_tx])
        log_index = np.concatenate([lay["log_start"][:n_plain], in_index, out_index])
        token = np.concatenate([self.plain.token, token_in, token_out])
        src = np.concatenate([self.plain.src, sw["trader"], pool_addr])
        dst = np.concatenate([self.plain.dst, pool_addr, sw["trader"]])
        units = np.concatenate([self.plain.units, units_in, units_out])
        block = lay["block"][tx]
        order = np.argsort(block * 65_536 + log_index)
        tx, log_index, token, src, dst, units, block = (
            a[order] for a in (tx, log_index, token, src, dst, units, block)
        )

        exponent = np.array([units_exponent(t) for t in spec.tokens])
        zeros = np.array([t.decimals for t in spec.tokens]) - exponent
        n = len(tx)
        columns = [
            encode.repeat(spec.chain, n),
            pa.array(self.blocks.numbers[block]),
            self._block_hashes.slice(1).take(pa.array(block)),
            pa.array(log_index.astype(np.int32)),
            encode.timestamps(self.blocks.micros[block]),
            self._tx_hashes.take(pa.array(tx)),
            encode.choose([t.symbol for t in spec.tokens], token),
            encode.choose([t.address.lower() for t in spec.tokens], token),
            book.take(src),
            book.take(dst),
            pa.array(units / 10.0 ** exponent[token]),
            encode.decimals(units, zeros[token]),
        ]
        return pa.Table.from_arrays(columns, schema=TOKEN_TRANSFERS)

    def _swap_common(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        lay = self._layout
        sw = self._swap_rows()
        swap_tx = int(lay["n_plain"]) + np.arange(len(sw["pool"]))
        return swap_tx, sw, lay["block"][swap_tx]

    def _decimal_amounts(
        self, pool: np.ndarray, units0: np.ndarray, units1: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        tokens = {t.symbol: t for t in self.spec.tokens}
        e0 = np.array([units_exponent(tokens[p.token0]) for p in self.spec.pools] + [0])
        e1 = np.array([units_exponent(tokens[p.token1]) for p in self.spec.pools] + [0])
        return units0 / 10.0 ** e0[pool], units1 / 10.0 ** e1[pool]

    def swaps_table(self) -> pa.Table:
        spec, lay = self.spec, self._layout
        swap_tx, sw, block = self._swap_common()
        v3 = lay["v3"]
        log_index = lay["log_start"][swap_tx] + np.where(v3, 2, 3)
        order = np.argsort(block * 65_536 + log_index)
        swap_tx, block, log_index = swap_tx[order], block[order], log_index[order]
        sw = {k: v[order] for k, v in sw.items()}
        v3 = v3[order]
        amount0, amount1 = self._decimal_amounts(sw["pool"], sw["amount0"], sw["amount1"])
        reserve0, reserve1 = self._decimal_amounts(sw["pool"], sw["units0"], sw["units1"])
        price = reserve1 / reserve0
        n = len(swap_tx)
        sqrt_price, tick = _v3_fields(spec, sw["pool"], price, v3)
        columns = [
            encode.repeat(spec.chain, n),
            encode.choose([p.dex for p in spec.pools] or [""], sw["pool"]),
            encode.choose([p.address.lower() for p in spec.pools] or [""], sw["pool"]),
            pa.array(self.blocks.numbers[block]),
            self._block_hashes.slice(1).take(pa.array(block)),
            pa.array(log_index.astype(np.int32)),
            encode.timestamps(self.blocks.micros[block]),
            self._tx_hashes.take(pa.array(swap_tx)),
            self.book.take(sw["sender"]),
            self.book.take(sw["trader"]),
            pa.array(amount0),
            pa.array(amount1),
            pa.array(price),
            sqrt_price,
            tick,
        ]
        return pa.Table.from_arrays(columns, schema=DEX_SWAPS)

    def reserves_table(self) -> pa.Table:
        spec, lay = self.spec, self._layout
        swap_tx, sw, block = self._swap_common()
        keep = ~lay["v3"]  # only V2 pools emit Sync
        log_index = lay["log_start"][swap_tx] + 2
        swap_tx, block, log_index = swap_tx[keep], block[keep], log_index[keep]
        sw = {k: v[keep] for k, v in sw.items()}
        order = np.argsort(block * 65_536 + log_index)
        block, log_index = block[order], log_index[order]
        sw = {k: v[order] for k, v in sw.items()}
        reserve0, reserve1 = self._decimal_amounts(sw["pool"], sw["units0"], sw["units1"])
        n = len(block)
        columns = [
            encode.repeat(spec.chain, n),
            encode.choose([p.dex for p in spec.pools] or [""], sw["pool"]),
            encode.choose([p.address.lower() for p in spec.pools] or [""], sw["pool"]),
            pa.array(self.blocks.numbers[block]),
            self._block_hashes.slice(1).take(pa.array(block)),
            pa.array(log_index.astype(np.int32)),
            encode.timestamps(self.blocks.micros[block]),
            pa.array(reserve0),
            pa.array(reserve1),
            pa.array(reserve1 / reserve0),
        ]
        return pa.Table.from_arrays(columns, schema=DEX_POOL_RESERVES)


def _v3_fields(
    spec: SimSpec, pool: np.ndarray, price: np.ndarray, v3: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """sqrtPriceX96 (decimal text) and tick of V3 swaps from the decimal-adjusted price; null for V2."""
    n = len(pool)
    if not v3.any():
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.int32())
    tokens = {t.symbol: t for t in spec.tokens}
    shift = np.array([tokens[p.token1].decimals - tokens[p.token0].decimals for p in spec.pools])
    raw_price = price * 10.0 ** shift[pool]
    sqrt_text: list[str | None] = [None] * n
    ticks: list[int | None] = [None] * n
    for i in np.flatnonzero(v3):
        sqrt_text[i] = str(int(math.sqrt(raw_price[i]) * 2.0**96))
        ticks[i] = math.floor(math.log(raw_price[i]) / math.log(1.0001))
    return pa.array(sqrt_text, type=pa.string()), pa.array(ticks, type=pa.int32())
