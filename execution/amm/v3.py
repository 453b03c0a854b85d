"""Uniswap V3 swaps in exact integers, as the pool contract computes them.

A pool's state (``sqrtPriceX96``, tick, in-range liquidity, fee, tick spacing and the net liquidity
of each initialised tick) is all a swap reads. :func:`swap` walks it exactly like
``UniswapV3Pool.swap``: step by step to the next initialised tick *or the end of its bitmap word*
(the contract stops there too, and every stop rounds), each step through ``SwapMath.computeSwapStep``
with ``SqrtPriceMath``'s rounding and ``TickMath``'s table, crossing ticks by their ``liquidityNet``.
The result therefore equals the chain's to the wei, and the router quotes V3 from it.

Ported from v3-core 1.0.1 (``contracts/libraries/{TickMath,SqrtPriceMath,SwapMath,TickBitmap}.sol``
in ``evm/node_modules/@uniswap/v3-core``); uint256 overflow checks are kept where the contract
branches on them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 2**96
_U256 = 2**256
_MAX_U256 = _U256 - 1

_RATIOS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


class SwapError(ValueError):
    """The pool cannot do this swap (no liquidity, a price limit out of range, ticks not loaded)."""


# --- FullMath / TickMath ---------------------------------------------------------------------------
def mul_div(a: int, b: int, d: int) -> int:
    return a * b // d


def mul_div_up(a: int, b: int, d: int) -> int:
    return -(-a * b // d)


def div_up(a: int, d: int) -> int:
    return -(-a // d)


def sqrt_ratio_at_tick(tick: int) -> int:
    """``TickMath.getSqrtRatioAtTick``: sqrt(1.0001**tick) as a Q64.96, rounded up like the contract."""
    abs_tick = abs(tick)
    if abs_tick > MAX_TICK:
        raise SwapError(f"tick {tick} is outside [{MIN_TICK}, {MAX_TICK}]")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 0x1 else 0x100000000000000000000000000000000
    for bit, factor in _RATIOS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = _MAX_U256 // ratio
    return (ratio >> 32) + (1 if ratio & 0xFFFFFFFF else 0)


def tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """``TickMath.getTickAtSqrtRatio``: the greatest tick whose sqrt ratio is <= the price."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise SwapError(f"sqrtPriceX96 {sqrt_price_x96} is outside the pool's range")
    guess = math.floor(2 * math.log(sqrt_price_x96 / Q96) / math.log(1.0001))
    tick = max(MIN_TICK, min(MAX_TICK, guess))
    while tick > MIN_TICK and sqrt_ratio_at_tick(tick) > sqrt_price_x96:
        tick -= 1
    while tick < MAX_TICK and sqrt_ratio_at_tick(tick + 1) <= sqrt_price_x96:
        tick += 1
    return tick


# --- SqrtPriceMath ---------------------------------------------------------------------------------
def _next_from_amount0_up(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = amount * sqrt_p
    if add:
        if product < _U256 and numerator1 + product < _U256:
            return mul_div_up(numerator1, sqrt_p, numerator1 + product)
        return div_up(numerator1, numerator1 // sqrt_p + amount)
    if product >= _U256 or numerator1 <= product:
        raise SwapError("the output asked for is more than the pool's token1 side can give")
    return mul_div_up(numerator1, sqrt_p, numerator1 - product)


def _next_from_amount1_down(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if add:
        return sqrt_p + (amount << 96) // liquidity
    quotient = div_up(amount << 96, liquidity)
    if sqrt_p <= quotient:
        raise SwapError("the output asked for is more than the pool's token0 side can give")
    return sqrt_p - quotient


def amount0_delta(a: int, b: int, liquidity: int, round_up: bool) -> int:
    if a > b:
        a, b = b, a
    numerator1, numerator2 = liquidity << 96, b - a
    if round_up:
        return div_up(mul_div_up(numerator1, numerator2, b), a)
    return mul_div(numerator1, numerator2, b) // a


def amount1_delta(a: int, b: int, liquidity: int, round_up: bool) -> int:
    if a > b:
        a, b = b, a
    return (mul_div_up if round_up else mul_div)(liquidity, b - a, Q96)


# --- SwapMath --------------------------------------------------------------------------------------
def compute_swap_step(current: int, target: int, liquidity: int, remaining: int, fee_pips: int):
    """``SwapMath.computeSwapStep``: (next sqrt price, amount in, amount out, fee amount)."""
    zero_for_one = current >= target
    exact_in = remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        less_fee = mul_div(remaining, 1_000_000 - fee_pips, 1_000_000)
        amount_in = (amount0_delta(target, current, liquidity, True) if zero_for_one
                     else amount1_delta(current, target, liquidity, True))  # fmt: skip
        if less_fee >= amount_in:
            nxt = target
        elif zero_for_one:
            nxt = _next_from_amount0_up(current, liquidity, less_fee, True)
        else:
            nxt = _next_from_amount1_down(current, liquidity, less_fee, True)
    else:
        amount_out = (amount1_delta(target, current, liquidity, False) if zero_for_one
                      else amount0_delta(current, target, liquidity, False))  # fmt: skip
        if -remaining >= amount_out:
            nxt = target
        elif zero_for_one:
            nxt = _next_from_amount1_down(current, liquidity, -remaining, False)
        else:
            nxt = _next_from_amount0_up(current, liquidity, -remaining, False)
    reached = target == nxt
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = amount0_delta(nxt, current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount1_delta(nxt, current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = amount1_delta(current, nxt, liquidity, True)
        if not (reached and not exact_in):
            amount_out = amount0_delta(current, nxt, liquidity, False)
    if not exact_in and amount_out > -remaining:
        amount_out = -remaining
    if exact_in and nxt != target:
        fee = remaining - amount_in
    else:
        fee = mul_div_up(amount_in, fee_pips, 1_000_000 - fee_pips)
    return nxt, amount_in, amount_out, fee


# --- the pool ---------------------------------------------------------------------------------------
@dataclass
class V3Pool:
    """What a V3 swap reads: price, tick, in-range liquidity, fee (pips) and initialised ticks.

    ``ticks`` maps each initialised tick to its ``liquidityNet``; ``known`` is the tick range whose
    bitmap was read (a swap that would walk past it raises rather than guess).
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee: int  # hundredths of a bip: 500, 3000, 10000
    tick_spacing: int
    ticks: dict[int, int] = field(default_factory=dict)
    known: tuple[int, int] = (MIN_TICK, MAX_TICK)
    _sorted: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._sorted = sorted(self.ticks)

    def _next_tick(self, tick: int, lte: bool) -> tuple[int, bool]:
        """``TickBitmap.nextInitializedTickWithinOneWord`` over ``ticks``."""
        spacing = self.tick_spacing
        compressed = tick // spacing
        if lte:
            word_start = (compressed - (compressed & 0xFF)) * spacing
            k = bisect_right(self._sorted, compressed * spacing) - 1
            if k >= 0 and self._sorted[k] >= word_start:
                return self._sorted[k], True
            return word_start, False
        compressed += 1
        word_end = (compressed + 255 - (compressed & 0xFF)) * spacing
        k = bisect_left(self._sorted, compressed * spacing)
        if k < len(self._sorted) and self._sorted[k] <= word_end:
            return self._sorted[k], True
        return word_end, False


@dataclass(frozen=True)
class SwapResult:
    amount0: int  # pool's view: positive into the pool
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int


def swap(
    pool: V3Pool, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int | None = None
) -> SwapResult:
    """``UniswapV3Pool.swap`` without transfers: exact input when ``amount_specified`` > 0, exact
    output when < 0. The limit defaults to the SwapRouter's (MIN/MAX_SQRT_RATIO -/+ 1)."""
    if amount_specified == 0:
        raise SwapError("a swap needs a non-zero amount (positive: exact input, negative: exact output)")
    limit = sqrt_price_limit_x96 or (MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
    if zero_for_one and not MIN_SQRT_RATIO < limit < pool.sqrt_price_x96:
        raise SwapError(
            f"price limit {limit} must be below the pool's price {pool.sqrt_price_x96} when selling token0"
        )
    if not zero_for_one and not pool.sqrt_price_x96 < limit < MAX_SQRT_RATIO:
        raise SwapError(
            f"price limit {limit} must be above the pool's price {pool.sqrt_price_x96} when selling token1"
        )
    exact_in = amount_specified > 0
    remaining, calculated = amount_specified, 0
    sqrt_p, tick, liquidity = pool.sqrt_price_x96, pool.tick, pool.liquidity
    crossed = 0
    while remaining != 0 and sqrt_p != limit:
        start = sqrt_p
        tick_next, initialised = pool._next_tick(tick, zero_for_one)
        tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
        if not pool.known[0] <= tick_next <= pool.known[1]:
            raise SwapError(f"the swap walks to tick {tick_next}, beyond the ticks read {pool.known}")
        sqrt_next = sqrt_ratio_at_tick(tick_next)
        target = limit if (sqrt_next < limit if zero_for_one else sqrt_next > limit) else sqrt_next
        sqrt_p, amount_in, amount_out, fee = compute_swap_step(sqrt_p, target, liquidity, remaining, pool.fee)
        if exact_in:
            remaining -= amount_in + fee
            calculated -= amount_out
        else:
            remaining += amount_out
            calculated += amount_in + fee
        if sqrt_p == sqrt_next:
            if initialised:
                net = pool.ticks[tick_next]
                liquidity += -net if zero_for_one else net
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_p != start:
            tick = tick_at_sqrt_ratio(sqrt_p)
    if zero_for_one == exact_in:
        amount0, amount1 = amount_specified - remaining, calculated
    else:
        amount0, amount1 = calculated, amount_specified - remaining
    return SwapResult(amount0, amount1, sqrt_p, tick, liquidity, crossed)


def quote_exact_input(pool: V3Pool, zero_for_one: bool, amount_in: int) -> int:
    """What ``SwapRouter.exactInputSingle`` pays out for ``amount_in`` (no price limit)."""
    result = swap(pool, zero_for_one, amount_in)
    return -(result.amount1 if zero_for_one else result.amount0)


def quote_exact_output(pool: V3Pool, zero_for_one: bool, amount_out: int) -> int:
    """What ``SwapRouter.exactOutputSingle`` takes in for exactly ``amount_out`` (no price limit)."""
    result = swap(pool, zero_for_one, -amount_out)
    received = -(result.amount1 if zero_for_one else result.amount0)
    if received != amount_out:
        raise SwapError(f"the pool can give only {received} of the {amount_out} asked for")
    return result.amount0 if zero_for_one else result.amount1
