"""The reference tables (pools, tokens, wallet labels) as the simulated chain knows them."""

from __future__ import annotations

import pyarrow as pa

from marketsim.schemas import DEX_POOLS, TOKENS, WALLET_LABELS
from marketsim.spec import SimSpec


def reference_tables(spec: SimSpec) -> dict[str, pa.Table]:
    """``dex_pools``, ``tokens`` and ``wallet_labels`` of ``spec`` (addresses lower-case)."""
    tokens = {t.symbol: t for t in spec.tokens}
    pools = [
        {
            "chain": spec.chain,
            "dex": p.dex,
            "pool": p.address.lower(),
            "token0": p.token0,
            "token1": p.token1,
            "token0_address": tokens[p.token0].address.lower(),
            "token1_address": tokens[p.token1].address.lower(),
            "decimals0": tokens[p.token0].decimals,
            "decimals1": tokens[p.token1].decimals,
            "fee_bps": float(p.fee_bps),
        }
        for p in spec.pools
    ]
    token_rows = [
        {
            "chain": spec.chain,
            "token": t.symbol,
            "token_address": t.address.lower(),
            "decimals": t.decimals,
            "asset": t.asset or "",
            "whale_threshold": float(t.whale_threshold),
        }
        for t in spec.tokens
    ]
    labels = [
        {"chain": spec.chain, "address": w.address.lower(), "label": w.label, "category": w.category}
        for w in dict((w.address.lower(), w) for w in spec.wallets).values()
    ]
    return {
        "dex_pools": pa.Table.from_pylist(pools, schema=DEX_POOLS),
        "tokens": pa.Table.from_pylist(token_rows, schema=TOKENS),
        "wallet_labels": pa.Table.from_pylist(labels, schema=WALLET_LABELS),
    }
