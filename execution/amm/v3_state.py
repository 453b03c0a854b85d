"""Read a Uniswap V3 pool's swap state from the chain: ``slot0``, ``liquidity``, fee, tick spacing,
and every initialised tick's ``liquidityNet`` found through ``tickBitmap`` around the price.

The bitmap is read word by word (one word covers 256 tick spacings) for ``words`` words either
side of the current one; :class:`~execution.amm.v3.V3Pool` remembers that range and a swap that
would walk out of it raises instead of quoting from ticks it has not seen.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from execution.amm.v3 import MAX_TICK, MIN_TICK, V3Pool

V3_POOL_ABI = [
    {"name": "slot0", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "sqrtPriceX96", "type": "uint160"}, {"name": "tick", "type": "int24"},
                 {"name": "observationIndex", "type": "uint16"}, {"name": "observationCardinality", "type": "uint16"},
                 {"name": "observationCardinalityNext", "type": "uint16"}, {"name": "feeProtocol", "type": "uint8"},
                 {"name": "unlocked", "type": "bool"}]},
    {"name": "liquidity", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint128"}]},
    {"name": "fee", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint24"}]},
    {"name": "tickSpacing", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "int24"}]},
    {"name": "token0", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"name": "token1", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"name": "tickBitmap", "type": "function", "stateMutability": "view", "inputs": [{"name": "", "type": "int16"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "ticks", "type": "function", "stateMutability": "view", "inputs": [{"name": "", "type": "int24"}],
     "outputs": [{"name": "liquidityGross", "type": "uint128"}, {"name": "liquidityNet", "type": "int128"},
                 {"name": "feeGrowthOutside0X128", "type": "uint256"},
                 {"name": "feeGrowthOutside1X128", "type": "uint256"},
                 {"name": "tickCumulativeOutside", "type": "int56"},
                 {"name": "secondsPerLiquidityOutsideX128", "type": "uint160"},
                 {"name": "secondsOutside", "type": "uint32"}, {"name": "initialized", "type": "bool"}]},
]  # fmt: skip


def pool_contract(w3: Web3, address: str) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=V3_POOL_ABI)


def _known(centre: int, words: int, spacing: int) -> tuple[int, int]:
    return (
        max(MIN_TICK, ((centre - words) << 8) * spacing),
        min(MAX_TICK, (((centre + words + 1) << 8) - 1) * spacing),
    )


def _set_ticks(word: int, bits: int, spacing: int) -> list[int]:
    """The initialised ticks a bitmap word marks."""
    ticks = []
    while bits:
        low = bits & -bits
        ticks.append(((word << 8) + low.bit_length() - 1) * spacing)
        bits ^= low
    return ticks


def read_pool(w3: Web3, address: str, words: int = 2, block: int | str = "latest") -> V3Pool:
    """The pool's swap state at ``block``, with the initialised ticks of ``2 * words + 1`` bitmap words."""
    fn = pool_contract(w3, address).functions
    sqrt_price_x96, tick, *_ = fn.slot0().call(block_identifier=block)
    spacing = fn.tickSpacing().call(block_identifier=block)
    centre = (tick // spacing) >> 8
    ticks: dict[int, int] = {}
    for word in range(centre - words, centre + words + 1):
        for t in _set_ticks(word, fn.tickBitmap(word).call(block_identifier=block), spacing):
            ticks[t] = fn.ticks(t).call(block_identifier=block)[1]
    return V3Pool(sqrt_price_x96, tick, fn.liquidity().call(block_identifier=block),
                  fn.fee().call(block_identifier=block), spacing, ticks, _known(centre, words, spacing))  # fmt: skip


async def read_pool_async(contract: Any, words: int = 2, block: int | str = "latest") -> V3Pool:
    """:func:`read_pool` through an ``AsyncWeb3`` contract of :data:`V3_POOL_ABI` (the venue's)."""
    fn = contract.functions
    sqrt_price_x96, tick, *_ = await fn.slot0().call(block_identifier=block)
    spacing = await fn.tickSpacing().call(block_identifier=block)
    centre = (tick // spacing) >> 8
    ticks: dict[int, int] = {}
    for word in range(centre - words, centre + words + 1):
        for t in _set_ticks(word, await fn.tickBitmap(word).call(block_identifier=block), spacing):
            ticks[t] = (await fn.ticks(t).call(block_identifier=block))[1]
    liquidity = await fn.liquidity().call(block_identifier=block)
    fee = await fn.fee().call(block_identifier=block)
    return V3Pool(sqrt_price_x96, tick, liquidity, fee, spacing, ticks, _known(centre, words, spacing))
