"""Kimera's V3 quote against the real pool contract: the same wei for swaps that cross ticks."""

from __future__ import annotations

import pytest

from execution.amm.v3 import (
    SwapError,
    V3Pool,
    quote_exact_input,
    quote_exact_output,
    sqrt_ratio_at_tick,
    swap,
    tick_at_sqrt_ratio,
)
from execution.amm.v3_state import read_pool
from tests.execution.amm.conftest import V3World

# (fee tier, token0 in?, amount in) in sequence: each swap starts where the one before left the pool
SEQUENCES = {
    500: [(True, 6 * 10**20), (False, 25 * 10**20), (True, 4 * 10**21), (False, 10**18 + 7)],
    3000: [(True, 5 * 10**20), (False, 2 * 10**21), (True, 3 * 10**21), (False, 123_456_789)],
    10000: [(False, 12 * 10**20), (True, 2 * 10**21), (False, 9 * 10**20)],
}


@pytest.mark.parametrize("fee", sorted(SEQUENCES))
def test_exact_input_quotes_equal_what_the_swap_router_pays_to_the_wei(v3_world: V3World, fee: int) -> None:
    pool = v3_world.pools[fee]
    crossed = 0
    for zero_for_one, amount_in in SEQUENCES[fee]:
        state = read_pool(v3_world.evm.w3, pool.address, words=4)
        predicted = swap(state, zero_for_one, amount_in)
        token_in, token_out = (
            (v3_world.token0, v3_world.token1) if zero_for_one else (v3_world.token1, v3_world.token0)
        )
        before_in, before_out = v3_world.balance(token_in), v3_world.balance(token_out)
        v3_world.uni.swap_exact_in(pool, token_in, amount_in, v3_world.trader)
        received = v3_world.balance(token_out) - before_out
        assert received == quote_exact_input(state, zero_for_one, amount_in)
        assert before_in - v3_world.balance(token_in) == amount_in
        sqrt_price, tick, *_ = pool.functions.slot0().call()
        assert (predicted.sqrt_price_x96, predicted.tick) == (sqrt_price, tick)
        assert predicted.liquidity == pool.functions.liquidity().call()
        crossed += predicted.ticks_crossed
    assert crossed >= 3  # the sequence really walked across initialised ticks


@pytest.mark.parametrize("fee", [500, 3000])
def test_exact_output_quotes_equal_what_the_swap_router_takes(v3_world: V3World, fee: int) -> None:
    pool = v3_world.pools[fee]
    for zero_for_one, amount_out in ((True, 1_500 * 10**18), (False, 2_200 * 10**18), (True, 10**15 + 3)):
        state = read_pool(v3_world.evm.w3, pool.address, words=4)
        token_in = v3_world.token0 if zero_for_one else v3_world.token1
        before = v3_world.balance(token_in)
        v3_world.uni.swap_exact_out(pool, token_in, amount_out, v3_world.trader)
        assert before - v3_world.balance(token_in) == quote_exact_output(state, zero_for_one, amount_out)


def test_a_swap_beyond_the_ticks_read_is_refused_rather_than_guessed(v3_world: V3World) -> None:
    state = read_pool(v3_world.evm.w3, v3_world.pools[3000].address, words=0)
    with pytest.raises(SwapError, match="beyond the ticks read"):
        swap(state, True, 10**26)


def test_asking_more_than_the_pool_holds_is_an_error_naming_what_it_can_give() -> None:
    lone = V3Pool(sqrt_ratio_at_tick(0), 0, 10**18, 3000, 60, {-60: 10**18, 60: -(10**18)})
    with pytest.raises(SwapError, match="can give only"):
        quote_exact_output(lone, True, 10**19)
    with pytest.raises(SwapError, match="non-zero amount"):
        swap(lone, True, 0)


@pytest.mark.parametrize("tick", [-887272, -200_311, -1, 0, 1, 60, 200_311, 887271])
def test_tick_math_round_trips_like_the_contract(tick: int) -> None:
    sqrt_price = sqrt_ratio_at_tick(tick)
    assert tick_at_sqrt_ratio(sqrt_price) == tick
    if tick > -887272:
        assert tick_at_sqrt_ratio(sqrt_price - 1) == tick - 1
    assert abs(sqrt_price / 2**96 - 1.0001 ** (tick / 2)) <= 1e-9 * 1.0001 ** (tick / 2)
