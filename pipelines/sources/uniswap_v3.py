"""Uniswap V3 pool events beyond ``Swap``: ``Mint`` and ``Burn`` (liquidity over a tick range), and the
in-range state a ``Swap`` leaves (``sqrtPriceX96``, ``liquidity``) as virtual reserves.

Between two initialised ticks a V3 pool trades like a constant-product pool holding
``L / sqrtP`` of token0 and ``L * sqrtP`` of token1 (its *virtual reserves*): those are what
``raw.dex_pool_reserves`` records for a V3 pool after each swap, so price and in-range depth are
read the same way for V2 and V3 (``L = sqrt(reserve0 * reserve1)`` in raw units).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from eth_abi import decode

from connect.evm import _data, scaled, topic, topic_address

V3_MINT = topic("Mint(address,address,int24,int24,uint128,uint256,uint256)")
V3_BURN = topic("Burn(address,int24,int24,uint128,uint256,uint256)")
Q96 = 2**96


@dataclass(frozen=True)
class LiquidityChange:
    event: str  # mint or burn
    owner: str
    tick_lower: int
    tick_upper: int
    liquidity: int
    amount0: int  # raw units
    amount1: int


def _tick(value: object) -> int:
    (tick,) = decode(["int24"], bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value))
    return tick


def decode_v3_mint(log: dict) -> LiquidityChange:
    """``Mint(sender, owner indexed, tickLower indexed, tickUpper indexed, amount, amount0, amount1)``."""
    _sender, amount, amount0, amount1 = decode(["address", "uint128", "uint256", "uint256"], _data(log))
    topics = log["topics"]
    return LiquidityChange("mint", topic_address(topics[1]), _tick(topics[2]), _tick(topics[3]), amount,
                           amount0, amount1)  # fmt: skip


def decode_v3_burn(log: dict) -> LiquidityChange:
    """``Burn(owner indexed, tickLower indexed, tickUpper indexed, amount, amount0, amount1)``."""
    amount, amount0, amount1 = decode(["uint128", "uint256", "uint256"], _data(log))
    topics = log["topics"]
    return LiquidityChange("burn", topic_address(topics[1]), _tick(topics[2]), _tick(topics[3]), amount,
                           amount0, amount1)  # fmt: skip


def virtual_reserves(
    sqrt_price_x96: int, liquidity: int, decimals0: int, decimals1: int
) -> tuple[float, float]:
    """(token0, token1) virtual reserves in range, decimal-adjusted: ``L / sqrtP`` and ``L * sqrtP``."""
    if sqrt_price_x96 == 0:
        return 0.0, 0.0
    reserve0 = Fraction(liquidity * Q96, sqrt_price_x96)
    reserve1 = Fraction(liquidity * sqrt_price_x96, Q96)
    return float(reserve0 / 10**decimals0), float(reserve1 / 10**decimals1)


def liquidity_row(change: LiquidityChange, decimals0: int, decimals1: int) -> dict:
    """The event's columns of ``raw.dex_liquidity``."""
    return {"event": change.event, "owner": change.owner, "tick_lower": change.tick_lower,
            "tick_upper": change.tick_upper, "liquidity": str(change.liquidity),
            "amount0": scaled(change.amount0, decimals0), "amount1": scaled(change.amount1, decimals1)}  # fmt: skip
