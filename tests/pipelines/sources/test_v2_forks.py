"""A V2 fork by configuration only: SushiSwap's own contracts (compiled from its npm sources, its own
init code hash) beside Uniswap V2 on one chain; the pool's ``dex`` names the fork."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from web3 import Web3

from connect.evm import scaled
from kimera.schema import DEX_SWAPS, conform
from marketsim.local_evm import get_amount_out
from pipelines.sources import make_sources
from pipelines.sources.rows import EPOCH
from tests.pipelines.sources.conftest import FAST_RETRY
from tests.support.config import config_with

ONE = 10**18


@pytest.fixture(scope="module")
def forks() -> Iterator[dict[str, Any]]:
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.sushiswap import deploy_sushiswap, sushiswap_build

    evm = Evm()
    uni = deploy_uniswap_v2(evm)
    sushi = deploy_sushiswap(evm, uni.weth, uni.tokens)
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    pairs = {"uniswap_v2": uni.create_pair(a, b, 10**24, 2 * 10**24),
             "sushiswap": sushi.create_pair(a, b, 10**24, 3 * 10**24)}  # fmt: skip
    with JsonRpcServer(evm.w3) as rpc:
        yield {"evm": evm, "routers": {"uniswap_v2": uni, "sushiswap": sushi}, "pairs": pairs, "rpc": rpc,
               "init_code_hash": sushiswap_build()["initCodeHash"]}  # fmt: skip


def test_sushiswaps_router_finds_its_pairs_by_its_own_init_code_hash(forks) -> None:
    evm, sushi = forks["evm"], forks["routers"]["sushiswap"]
    pair = forks["pairs"]["sushiswap"]
    assert pair.address != forks["pairs"]["uniswap_v2"].address
    creation = evm.w3.eth.get_code(pair.address)
    assert len(creation) > 0
    salt = Web3.solidity_keccak(["address", "address"], sorted([sushi.tokens["TKA"].address, sushi.tokens["TKB"].address],
                                                               key=lambda x: int(x, 16)))  # fmt: skip
    expected = Web3.keccak(b"\xff" + bytes.fromhex(sushi.factory.address[2:]) + salt
                           + bytes.fromhex(forks["init_code_hash"][2:]))[12:]  # fmt: skip
    assert Web3.to_checksum_address(expected) == pair.address  # CREATE2 with this compilation's hash
    assert forks["init_code_hash"] != "0xe18a34eb0e04b04f7a0ac29a6e80748dca96319b42c54d679cb821dca90c6303"


def test_swaps_of_a_fork_and_of_uniswap_land_apart_by_dex(forks, kimera_home) -> None:
    evm, rpc = forks["evm"], forks["rpc"]
    uni = forks["routers"]["uniswap_v2"]
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    trader = evm.accounts[1]
    evm.send(a.functions.transfer(trader, 100 * ONE))
    first = evm.head + 1
    expected = {}
    for dex, router in forks["routers"].items():
        pair = forks["pairs"][dex]
        r0, r1, _ = pair.functions.getReserves().call()
        a_is_0 = pair.functions.token0().call() == a.address
        out = get_amount_out(3 * ONE, r0 if a_is_0 else r1, r1 if a_is_0 else r0)
        receipt = router.swap_exact_in(a, b, 3 * ONE, trader)
        expected[dex] = (Web3.to_hex(receipt.transactionHash), (3 * ONE, -out) if a_is_0 else (-out, 3 * ONE))
    labels = {}
    pools = []
    for dex, pair in forks["pairs"].items():
        t0, t1 = ("TKA", "TKB") if pair.functions.token0().call() == a.address else ("TKB", "TKA")
        labels[dex] = (t0, t1)
        pools.append({"address": pair.address, "dex": dex, "token0": t0, "token1": t1})
    tokens = [{"symbol": n, "address": c.address, "decimals": 18} for n, c in uni.tokens.items()]
    config = config_with(chain={"source": "rpc", "name": "testchain", "rpc_url": rpc.url, "confirmations": 0,
                                "tokens": tokens, "retry": FAST_RETRY}, dex={"source": "rpc", "pools": pools})  # fmt: skip
    source = make_sources(config).dex
    window = (
        EPOCH + timedelta(seconds=evm.block_time(first)),
        EPOCH + timedelta(seconds=evm.block_time() + 1),
    )
    rows = conform(DEX_SWAPS, source.swaps(*window)).to_pylist()
    assert {r["dex"] for r in rows} == {"uniswap_v2", "sushiswap"}
    for row in rows:
        tx_hash, (a0, a1) = expected[row["dex"]]
        assert row["pool"] == forks["pairs"][row["dex"]].address.lower() and row["tx_hash"] == tx_hash
        assert (row["amount0"], row["amount1"]) == (scaled(a0, 18), scaled(a1, 18))
    pools_rows = {r["dex"]: r for r in source.pools().to_pylist()}
    assert set(pools_rows) == {"uniswap_v2", "sushiswap"}


def test_pancakeswap_by_configuration_only_on_its_own_contracts(kimera_home) -> None:
    """PancakeSwap's own Factory and Pair (npm bytecode): its init code hash finds its pairs, and its
    swaps land as ``dex: pancakeswap`` with the chain's exact amounts; the router prices the pool at the
    configured 0.2 % fee to what the pair paid out."""
    from execution.router import PoolInput, pool_cost
    from execution.venues.base import Side
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer
    from tests.support.pancakeswap import create_pair, deploy_factory, swap_exact_in

    evm = Evm(chain_id=56)
    uni = deploy_uniswap_v2(evm)  # for its test tokens
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    factory = deploy_factory(evm)
    pair = create_pair(evm, factory, a, b, 10**24, 2 * 10**24)
    init_code_hash = factory.functions.INIT_CODE_PAIR_HASH().call()
    salt = Web3.solidity_keccak(
        ["address", "address"], sorted([a.address, b.address], key=lambda x: int(x, 16))
    )
    expected = Web3.keccak(b"\xff" + bytes.fromhex(factory.address[2:]) + salt + init_code_hash)[12:]
    assert Web3.to_checksum_address(expected) == pair.address  # CREATE2 with PancakeSwap's own hash
    assert Web3.to_hex(init_code_hash) != "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"

    trader = evm.accounts[1]
    evm.send(a.functions.transfer(trader, 100 * ONE))
    first = evm.head + 1
    a_is_0 = pair.functions.token0().call() == a.address
    r_in, r_out = (lambda r: (r[0], r[1]) if a_is_0 else (r[1], r[0]))(pair.functions.getReserves().call())
    out, receipt = swap_exact_in(evm, pair, a, 3 * ONE, trader)
    t0, t1 = ("TKA", "TKB") if a_is_0 else ("TKB", "TKA")
    tokens = [{"symbol": n, "address": c.address, "decimals": 18} for n, c in uni.tokens.items()]
    with JsonRpcServer(evm.w3) as rpc:
        config = config_with(
            chain={"source": "rpc", "name": "bsc", "chain_id": 56, "rpc_url": rpc.url, "confirmations": 0,
                   "tokens": tokens, "retry": FAST_RETRY},
            dex={"source": "rpc", "pools": [{"address": pair.address, "dex": "pancakeswap", "token0": t0,
                                             "token1": t1, "fee_bps": 20}]},
        )  # fmt: skip
        source = make_sources(config).dex
        window = (
            EPOCH + timedelta(seconds=evm.block_time(first)),
            EPOCH + timedelta(seconds=evm.block_time() + 1),
        )
        rows = conform(DEX_SWAPS, source.swaps(*window)).to_pylist()
        pools = source.pools().to_pylist()
    assert [(r["dex"], r["pool"], r["tx_hash"]) for r in rows] == [
        ("pancakeswap", pair.address.lower(), Web3.to_hex(receipt.transactionHash))
    ]
    a0, a1 = (3 * ONE, -out) if a_is_0 else (-out, 3 * ONE)
    assert (rows[0]["amount0"], rows[0]["amount1"], rows[0]["chain"]) == (
        scaled(a0, 18),
        scaled(a1, 18),
        "bsc",
    )
    assert [(p["dex"], p["pool"]) for p in pools] == [("pancakeswap", pair.address.lower())]
    # the router's constant-product price with the pool's configured fee is what the pair paid
    pool = PoolInput("pancake", r_in / ONE, r_out / ONE, 0.002, 0.0, 1.0)
    assert -pool_cost(pool, Side.SELL, 3.0) == pytest.approx(out / ONE, rel=1e-12)
