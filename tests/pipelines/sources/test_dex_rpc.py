"""The DEX source against the real Uniswap V2 Factory/Pair/Router02 on eth-tester, and V3 Swap logs."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode
from web3 import Web3

from connect.evm import (
    V3_SWAP,
    decode_v3_swap,
    reserves_price,
    scaled,
    sqrt_price_x96_price,
    tick_price,
)
from kimera.config import ConfigError
from kimera.schema import DEX_POOL_RESERVES, DEX_SWAPS, conform
from marketsim.local_evm import deploy_log_emitter, emit_log, get_amount_out
from pipelines.sources import make_sources
from pipelines.sources.dex_rpc import RpcDexSource
from tests.pipelines.sources.conftest import ChainWorld
from tests.support.config import config_with

ONE = 10**18


def test_pool_facts_are_read_from_the_chain_once_and_cached(chain_world: ChainWorld) -> None:
    source = make_sources(chain_world.config()).dex
    (pool,) = conform_rows(source.pools())
    token0 = chain_world.uni.tokens[chain_world.token0]
    assert (pool["token0"], pool["token0_address"]) == (chain_world.token0, token0.address.lower())
    assert (pool["decimals0"], pool["decimals1"], pool["fee_bps"]) == (18, 18, 30.0)
    assert json.loads(source.cache_path.read_text())[chain_world.pair.address.lower()]["decimals0"] == 18

    chain_world.rpc.calls.clear()
    again = make_sources(chain_world.config()).dex
    assert conform_rows(again.pools()) == [pool]
    assert chain_world.rpc.methods("eth_call") == []  # the cache answered


def conform_rows(table) -> list[dict]:
    return table.to_pylist()


def test_swaps_and_reserves_equal_what_the_transactions_did(chain_world: ChainWorld) -> None:
    evm, uni, pair = chain_world.evm, chain_world.uni, chain_world.pair
    t0, t1 = uni.tokens[chain_world.token0], uni.tokens[chain_world.token1]
    trader = chain_world.trader
    evm.send(t0.functions.transfer(trader, 50 * ONE))
    evm.send(t1.functions.transfer(trader, 50 * ONE))
    first = evm.head + 1
    expected = []
    for token_in, token_out, amount_in in ((t0, t1, 3 * ONE), (t1, t0, 7 * ONE), (t0, t1, 12345)):
        r0, r1, _ = pair.functions.getReserves().call()
        zero_in = token_in.address == t0.address
        out = get_amount_out(amount_in, r0 if zero_in else r1, r1 if zero_in else r0)
        before = token_out.functions.balanceOf(trader).call()
        receipt = uni.swap_exact_in(token_in, token_out, amount_in, trader)
        assert (
            token_out.functions.balanceOf(trader).call() - before == out
        )  # the chain agrees with the formula
        a0, a1 = (amount_in, -out) if zero_in else (-out, amount_in)
        after = pair.functions.getReserves().call(block_identifier=receipt.blockNumber)
        expected.append(
            (receipt.blockNumber, Web3.to_hex(receipt.transactionHash), a0, a1, after[0], after[1])
        )
    last = evm.head
    source = make_sources(chain_world.config()).dex
    window = chain_world.window(first, last)
    swaps = conform(DEX_SWAPS, source.swaps(*window)).to_pylist()
    reserves = conform(DEX_POOL_RESERVES, source.reserves(*window)).to_pylist()

    assert len(swaps) == 3 and len(reserves) == 3
    for row, (block, tx, a0, a1, res0, res1) in zip(swaps, expected, strict=True):
        assert (row["block_number"], row["tx_hash"], row["pool"]) == (block, tx, pair.address.lower())
        assert (row["amount0"], row["amount1"]) == (scaled(a0, 18), scaled(a1, 18))
        assert row["price"] == reserves_price(res0, res1, 18, 18)
        assert (row["sender"], row["recipient"]) == (uni.router.address.lower(), trader.lower())
        assert row["sqrt_price_x96"] is None and row["tick"] is None
    for row, (block, _, _, _, res0, res1) in zip(reserves, expected, strict=True):
        assert (row["block_number"], row["reserve0"], row["reserve1"]) == (
            block,
            scaled(res0, 18),
            scaled(res1, 18),
        )
        assert row["log_index"] < next(s["log_index"] for s in swaps if s["block_number"] == block)


def test_token_labels_in_the_wrong_order_fail_at_once(chain_world: ChainWorld) -> None:
    config = chain_world.config()
    data = config.model_dump()
    pool = data["dex"]["pools"][0]
    pool["token0"], pool["token1"] = pool["token1"], pool["token0"]
    from kimera.config import parse_config

    with pytest.raises(ConfigError) as err:
        make_sources(parse_config(data)).dex.pools()
    assert "list them in the pool's order" in str(err.value)
    assert chain_world.pair.address in str(err.value)


# --- Uniswap V3 (no V3 contract artefacts offline: decoders on encoded logs, and logs on chain) -------
SQRT_ONE = 2**96


def _v3_log(amount0: int, amount1: int, sqrt_price_x96: int, liquidity: int, tick: int) -> dict:
    data = encode(
        ["int256", "int256", "uint160", "uint128", "int24"],
        [amount0, amount1, sqrt_price_x96, liquidity, tick],
    )
    sender, recipient = "0x" + "ab" * 20, "0x" + "cd" * 20
    return {
        "topics": [V3_SWAP, "0x" + "00" * 12 + sender[2:], "0x" + "00" * 12 + recipient[2:]],
        "data": Web3.to_hex(data),
    }


def test_v3_swap_decodes_signed_amounts_and_sqrt_price() -> None:
    swap = decode_v3_swap(_v3_log(-2_500_000_000, 10**18, 20_000 * SQRT_ONE, 123, 198_000))
    assert (swap.amount0, swap.amount1, swap.liquidity, swap.tick) == (-2_500_000_000, 10**18, 123, 198_000)
    assert (swap.sender, swap.recipient) == ("0x" + "ab" * 20, "0x" + "cd" * 20)


@pytest.mark.parametrize(
    ("sqrt_price_x96", "decimals0", "decimals1", "price"),
    [
        (SQRT_ONE, 18, 18, 1.0),
        (20_000 * SQRT_ONE, 6, 18, 4e-4),  # USDC/WETH: 2500 USDC per WETH is 0.0004 WETH per USDC
        (SQRT_ONE // 20_000, 18, 6, 2500.0),  # WETH/USDC: 2500 USDC per WETH
    ],
)
def test_sqrt_price_x96_price_is_token1_per_token0_decimal_adjusted(
    sqrt_price_x96, decimals0, decimals1, price
) -> None:
    assert sqrt_price_x96_price(sqrt_price_x96, decimals0, decimals1) == pytest.approx(price, rel=1e-15)


def test_sqrt_price_agrees_with_the_tick() -> None:
    tick = 200_311  # about 2 000 USDC per WETH in a WETH/USDC (18/6) pool
    sqrt_price_x96 = int((1.0001**tick) ** 0.5 * SQRT_ONE)
    assert sqrt_price_x96_price(sqrt_price_x96, 18, 6) == pytest.approx(tick_price(tick, 18, 6), rel=1e-12)


def test_v3_swap_logs_on_chain_go_through_the_same_reader(chain_world: ChainWorld, kimera_home) -> None:
    evm = chain_world.evm
    pool = deploy_log_emitter(evm)  # stands at the pool's address and emits its Swap events
    usdc, weth = (
        "0x" + "11" * 20,
        chain_world.uni.weth.address.lower(),
    )  # the label WETH is a configured token
    config = config_with(
        chain=chain_world.config().chain.model_dump(),
        dex={
            "source": "rpc",
            "pools": [{"address": pool, "dex": "uniswap_v3", "token0": "USDC", "token1": "WETH"}],
        },
    )
    source = make_sources(config).dex
    assert isinstance(source, RpcDexSource)
    # facts a V3 pool would answer (token0/token1/decimals/fee), put in the documented cache
    source.cache_path.parent.mkdir(parents=True, exist_ok=True)
    source.cache_path.write_text(json.dumps({pool.lower(): {
        "dex": "uniswap_v3", "token0_address": usdc, "token1_address": weth, "decimals0": 6, "decimals1": 18,
        "symbol0": "USDC", "symbol1": "WETH", "fee_bps": 5.0}}))  # fmt: skip
    first = evm.head + 1
    log = _v3_log(2_500_000_000, -(10**18), 20_000 * SQRT_ONE, 10**20, 198_079)
    topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
    receipt = emit_log(evm, pool, topics, bytes.fromhex(log["data"][2:]))
    (row,) = conform(DEX_SWAPS, source.swaps(*chain_world.window(first, evm.head))).to_pylist()
    assert (row["dex"], row["amount0"], row["amount1"]) == ("uniswap_v3", 2500.0, -1.0)
    assert row["price"] == pytest.approx(4e-4, rel=1e-15)  # WETH per USDC
    assert (row["sqrt_price_x96"], row["tick"]) == (str(20_000 * SQRT_ONE), 198_079)
    assert row["tx_hash"] == Web3.to_hex(receipt.transactionHash)
    assert conform_rows(source.pools())[0]["fee_bps"] == 5.0
    (state,) = source.reserves(*chain_world.window(first, evm.head)).to_pylist()  # virtual reserves in range
    assert state["price"] == row["price"] and state["log_index"] == row["log_index"]
    assert state["reserve0"] * state["reserve1"] == pytest.approx((10**20 / 10**12) ** 2, rel=1e-12)  # L^2
