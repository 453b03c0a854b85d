"""Every address the simulated chain uses: ordinary wallets, labelled wallets, pools, router, bots."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from marketsim.encode import hex_strings
from marketsim.keyed import hash_words, stream_key
from marketsim.spec import SimSpec

UNISWAP_V2_ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
ARBITRAGE_BOTS = 4


def hashed_addresses(seed: int, stream: str, count: int) -> list[str]:
    """``count`` pseudo-random 20-byte addresses of a named population."""
    counters = np.arange(count * 3, dtype=np.uint64).reshape(count, 3)
    return hex_strings(hash_words(stream_key(seed, stream), counters), 20).to_pylist()


class AddressBook:
    """Addresses by index; ordinary wallets first, so random picks never hit a labelled one."""

    def __init__(self, spec: SimSpec) -> None:
        labelled = list(dict.fromkeys(w.address.lower() for w in spec.exchange_wallets))
        others = list(dict.fromkeys(w.address.lower() for w in spec.wallets if w.category != "exchange"))
        others = [a for a in others if a not in labelled]
        pools = [p.address.lower() for p in spec.pools]
        special = set(labelled) | set(others) | set(pools) | {UNISWAP_V2_ROUTER}
        users = [a for a in hashed_addresses(spec.seed, "wallets", spec.users) if a not in special]
        bots = hashed_addresses(spec.seed, "arbitrage-bots", ARBITRAGE_BOTS)
        everything = users + labelled + others + pools + [UNISWAP_V2_ROUTER] + bots
        self.addresses: pa.StringArray = pa.array(everything, type=pa.string())
        self.users = len(users)
        self.exchange = np.arange(len(users), len(users) + len(labelled))
        self.is_exchange = np.zeros(len(everything), dtype=bool)
        self.is_exchange[self.exchange] = True
        start = len(users) + len(labelled) + len(others)
        self.pool = {p: start + i for i, p in enumerate(pools)}
        self.router = start + len(pools)
        self.bots = np.arange(self.router + 1, self.router + 1 + ARBITRAGE_BOTS)

    def pick_users(self, g: np.random.Generator, n: int) -> np.ndarray:
        """``n`` ordinary wallets, a few of them far more active than the rest (density ~ 1/sqrt(rank))."""
        return np.minimum((self.users * g.random(n) ** 2).astype(np.int64), self.users - 1)

    def take(self, index: np.ndarray) -> pa.Array:
        return self.addresses.take(pa.array(np.asarray(index, dtype=np.int64)))
