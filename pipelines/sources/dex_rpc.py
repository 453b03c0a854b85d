"""DEX pools from chain logs (``dex.source: rpc``, through the chain section's RPC URL).

* Uniswap V2 pairs: ``Swap`` (amounts in/out per token) and ``Sync`` (reserves after each update);
  a swap's price is the reserves ratio of the ``Sync`` its transaction emitted just before it;
* Uniswap V3 pools: ``Swap`` (signed amounts, ``sqrtPriceX96``, tick); price from ``sqrtPriceX96``;
  the in-range state after it as virtual reserves; ``Mint``/``Burn`` into ``raw.dex_liquidity``.

Token addresses, decimals and V3 fees are read from the chain once and cached under
``KIMERA_HOME/cache``; the config's token labels are checked against them (a swapped
token0/token1 fails at once). Amounts are the pool's view: positive into the pool.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from web3 import Web3

from connect.evm import (
    ERC20_ABI,
    POOL_ABI,
    V2_SWAP,
    V2_SYNC,
    V3_SWAP,
    LogRef,
    decode_v2_swap,
    decode_v2_sync,
    decode_v3_swap,
    first_topic,
    read_symbol,
    reserves_price,
    scaled,
    sqrt_price_x96_price,
)
from kimera.config import V2_SHAPED, ConfigError, KimeraConfig, Pool
from kimera.schema import DEX_LIQUIDITY, DEX_POOL_RESERVES, DEX_POOLS, DEX_SWAPS
from kimera.settings import Settings, get_settings
from pipelines.sources.chain_rpc import BlockWindows, make_client, ts_of
from pipelines.sources.rows import table_from_records
from pipelines.sources.rpc import ReorgDuringFetch, RpcClient
from pipelines.sources.uniswap_v3 import (
    V3_BURN,
    V3_MINT,
    decode_v3_burn,
    decode_v3_mint,
    liquidity_row,
    virtual_reserves,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolFacts:
    """What the chain says about a pool (never changes, so it is cached)."""

    dex: str
    token0_address: str
    token1_address: str
    decimals0: int
    decimals1: int
    symbol0: str | None
    symbol1: str | None
    fee_bps: float | None  # V3 fee from the pool; None for V2 (the config's fee_bps)


class RpcDexSource(BlockWindows):
    """:class:`~pipelines.sources.base.DexSource` over web3 logs of the configured pools."""

    dataset = "dex"
    tables = ("dex_swaps", "dex_pool_reserves", "dex_liquidity")

    def __init__(
        self, config: KimeraConfig, settings: Settings | None = None, client: RpcClient | None = None
    ):
        self.config = config
        self.reorg_lookback = config.chain.reorg_lookback_blocks
        self.settings = settings or get_settings()
        self.client = client or make_client(config, self.settings, label=f"{config.chain.name} rpc (dex)")
        self.pool_config: dict[str, Pool] = {p.address.lower(): p for p in config.dex.pools}
        self._facts: dict[str, PoolFacts] | None = None
        self._decoded: dict[tuple[int, int], dict[str, pa.Table]] = {}  # the tables share their reads

    # --- pool facts ---------------------------------------------------------------------------------
    @property
    def cache_path(self) -> Path:
        return self.settings.home_dir / "cache" / f"dex_pools_{self.chain()}.json"

    def facts(self) -> dict[str, PoolFacts]:
        """Facts of every configured pool: from the cache, else read from the chain once."""
        if self._facts is not None:
            return self._facts
        cached: dict[str, dict] = {}
        if self.cache_path.is_file():
            cached = json.loads(self.cache_path.read_text())
        facts = {}
        for address, pool in self.pool_config.items():
            entry = cached.get(address)
            facts[address] = (
                PoolFacts(**entry) if entry and entry["dex"] == pool.dex else self._read_facts(pool)
            )
            self._check_labels(pool, facts[address])
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.cache_path.write_text(
            json.dumps({**cached, **{a: asdict(f) for a, f in facts.items()}}, indent=1)
        )
        self._facts = facts
        return facts

    def _read_facts(self, pool: Pool) -> PoolFacts:
        call = self.client.call_function
        contract = self.client.w3.eth.contract(address=Web3.to_checksum_address(pool.address), abi=POOL_ABI)
        token0 = str(call(f"pool {pool.address} token0()", contract.functions.token0())).lower()
        token1 = str(call(f"pool {pool.address} token1()", contract.functions.token1())).lower()
        decimals = []
        for token in (token0, token1):
            erc20 = self.client.w3.eth.contract(address=Web3.to_checksum_address(token), abi=ERC20_ABI)
            decimals.append(int(call(f"token {token} decimals()", erc20.functions.decimals())))
        symbols = [
            self.client.call(f"token {t} symbol()", lambda t=t: read_symbol(self.client.w3, t))
            for t in (token0, token1)
        ]
        fee = None
        if pool.dex == "uniswap_v3":
            fee = (
                int(call(f"pool {pool.address} fee()", contract.functions.fee())) / 100
            )  # hundredths of a bip
        log.info("%s pool %s: token0 %s, token1 %s", pool.dex, pool.address, symbols[0], symbols[1])
        return PoolFacts(pool.dex, token0, token1, decimals[0], decimals[1], symbols[0], symbols[1], fee)

    def _check_labels(self, pool: Pool, facts: PoolFacts) -> None:
        known = {t.symbol: t.address.lower() for t in self.config.chain.tokens}
        actual = (facts.token0_address, facts.token1_address)
        symbols = ((facts.symbol0 or "").upper(), (facts.symbol1 or "").upper())
        for position, label in enumerate((pool.token0, pool.token1)):
            other = 1 - position
            wrong = (label in known and known[label] != actual[position]) or (
                label not in known and label.upper() == symbols[other] and label.upper() != symbols[position]
            )
            if wrong:
                raise ConfigError(
                    f"dex.pools: pool {pool.address} has token{position} = {label!r} in the config, but on chain "
                    f"token0 is {facts.symbol0 or '?'} ({facts.token0_address}) and token1 is "
                    f"{facts.symbol1 or '?'} ({facts.token1_address}); list them in the pool's order"
                )

    # --- DexSource ----------------------------------------------------------------------------------
    def pools(self) -> pa.Table:
        rows = []
        for address, f in self.facts().items():
            pool = self.pool_config[address]
            rows.append(
                {
                    "chain": self.chain(),
                    "dex": pool.dex,
                    "pool": address,
                    "token0": pool.token0,
                    "token1": pool.token1,
                    "token0_address": f.token0_address,
                    "token1_address": f.token1_address,
                    "decimals0": f.decimals0,
                    "decimals1": f.decimals1,
                    "fee_bps": f.fee_bps if f.fee_bps is not None else pool.fee_bps,
                }
            )
        return table_from_records(DEX_POOLS, rows)

    def swaps(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("dex_swaps", start, end)

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("dex_pool_reserves", start, end)

    def liquidity(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("dex_liquidity", start, end)

    # --- reorg-aware (pipelines.sources.reorg; windows, coverage and hashes from BlockWindows) ------
    def canonical_hashes(self, numbers: list[int]) -> dict[int, str]:
        self._decoded.clear()  # a reorg check means earlier reads may be stale
        return super().canonical_hashes(numbers)

    def heal_scope(self, table: str) -> dict[str, list[str]]:
        return {"pool": sorted(self.pool_config)}

    def rows_between(self, table: str, first: int, last: int) -> pa.Table:
        if table not in self.tables:
            raise ValueError(f"{table} is not a DEX table; expected one of {self.tables}")
        if (first, last) not in self._decoded:
            if len(self._decoded) >= 4:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[(first, last)] = self._decode(first, last)
        return self._decoded[(first, last)][table]

    # --- logs -------------------------------------------------------------------------------------------
    def _read_logs(self, first: int, last: int) -> tuple[list[dict], dict]:
        if first > last or not self.pool_config:
            return [], {}
        query = {"address": [Web3.to_checksum_address(a) for a in self.pool_config],
                 "topics": [[V2_SWAP, V2_SYNC, V3_SWAP, V3_MINT, V3_BURN]]}  # fmt: skip
        for _ in range(3):
            logs = self.client.get_logs(query, first, last)
            headers = self.client.headers({int(e["blockNumber"]) for e in logs})
            if all(headers[int(e["blockNumber"])].hash == LogRef.of(e).block_hash for e in logs):
                return logs, headers
            self.client.headers({int(e["blockNumber"]) for e in logs}, fresh=True)
            log.warning("%s: logs and blocks disagree on hashes (a reorg); reading again", self.client.label)
        raise ReorgDuringFetch(f"{self.client.label}: pool logs of blocks {first}..{last} kept reorganising")

    def _decode(self, first: int, last: int) -> dict[str, pa.Table]:
        facts = self.facts()
        logs, headers = self._read_logs(first, last)
        logs.sort(key=lambda e: (int(e["blockNumber"]), int(e["logIndex"])))
        swaps, reserves, liquidity = [], [], []
        last_sync: dict[str, tuple[str, int, int]] = {}  # pool -> (tx hash, reserve0, reserve1)
        for entry in logs:
            ref = LogRef.of(entry)
            pool = self.pool_config.get(ref.address)
            if pool is None:
                continue
            f = facts[ref.address]
            kind = first_topic(entry)
            common = {"chain": self.chain(), "dex": pool.dex, "pool": ref.address, "block_number": ref.block_number,
                      "block_hash": ref.block_hash, "log_index": ref.log_index,
                      "ts": ts_of(headers[ref.block_number].ts)}  # fmt: skip
            if kind == V2_SYNC.lower():
                r0, r1 = decode_v2_sync(entry)
                last_sync[ref.address] = (ref.tx_hash, r0, r1)
                reserves.append({**common, "reserve0": scaled(r0, f.decimals0), "reserve1": scaled(r1, f.decimals1),
                                 "price": reserves_price(r0, r1, f.decimals0, f.decimals1)})  # fmt: skip
            elif kind == V2_SWAP.lower() and pool.dex in V2_SHAPED:
                swap = decode_v2_swap(entry)
                sync = last_sync.get(ref.address)
                if sync is None or sync[0] != ref.tx_hash:
                    raise ValueError(
                        f"swap {ref.tx_hash}:{ref.log_index} of V2 pool {ref.address} has no Sync before it"
                    )
                swaps.append({**common, "tx_hash": ref.tx_hash, "sender": swap.sender, "recipient": swap.recipient,
                              "amount0": scaled(swap.amount0, f.decimals0), "amount1": scaled(swap.amount1, f.decimals1),
                              "price": reserves_price(sync[1], sync[2], f.decimals0, f.decimals1),
                              "sqrt_price_x96": None, "tick": None})  # fmt: skip
            elif kind == V3_SWAP.lower() and pool.dex == "uniswap_v3":
                swap = decode_v3_swap(entry)
                swaps.append({**common, "tx_hash": ref.tx_hash, "sender": swap.sender, "recipient": swap.recipient,
                              "amount0": scaled(swap.amount0, f.decimals0), "amount1": scaled(swap.amount1, f.decimals1),
                              "price": sqrt_price_x96_price(swap.sqrt_price_x96, f.decimals0, f.decimals1),
                              "sqrt_price_x96": str(swap.sqrt_price_x96), "tick": swap.tick})  # fmt: skip
                r0, r1 = virtual_reserves(swap.sqrt_price_x96, swap.liquidity, f.decimals0, f.decimals1)
                reserves.append({**common, "reserve0": r0, "reserve1": r1, "price": swaps[-1]["price"]})
            elif kind in (V3_MINT.lower(), V3_BURN.lower()) and pool.dex == "uniswap_v3":
                change = (decode_v3_mint if kind == V3_MINT.lower() else decode_v3_burn)(entry)
                liquidity.append(
                    {**common, "tx_hash": ref.tx_hash, **liquidity_row(change, f.decimals0, f.decimals1)}
                )
        return {"dex_swaps": table_from_records(DEX_SWAPS, swaps),
                "dex_pool_reserves": table_from_records(DEX_POOL_RESERVES, reserves),
                "dex_liquidity": table_from_records(DEX_LIQUIDITY, liquidity)}  # fmt: skip
