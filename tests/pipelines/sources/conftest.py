"""Fixtures for the live-source tests: a local exchange for the real ccxt clients, and a local chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from kimera.config import KimeraConfig
from marketsim.exchange_server import ExchangeServer
from pipelines.sources.rows import EPOCH
from tests.support.config import config_with

FAST_RETRY = {"attempts": 4, "backoff_s": 0.05, "max_backoff_s": 0.2, "timeout_s": 2.0}


@pytest.fixture
def exchange_server() -> Iterator[ExchangeServer]:
    with ExchangeServer() as server:
        yield server


def ccxt_config(server: ExchangeServer, *exchanges: str, venue: dict[str, Any] | None = None,
                **exchange: Any) -> KimeraConfig:  # fmt: skip
    """Assets BTC and ETH on the given exchanges, all pointed at ``server``, with quick retries."""
    section = {
        "source": "ccxt",
        "timeframe": "1m",
        "ccxt_venues": [server.venue(e, **(venue or {})) for e in exchanges],
        "retry": FAST_RETRY,
        **exchange,
    }
    return config_with(exchange=section)


# --- an EVM with the real Uniswap V2 contracts, served over JSON-RPC on 127.0.0.1 ---------------------
@dataclass
class ChainWorld:
    evm: Any
    uni: Any
    rpc: Any
    pair: Any
    token0: str  # labels in the pair's order
    token1: str

    @property
    def trader(self) -> str:
        return self.evm.accounts[1]

    @property
    def exchange_wallet(self) -> str:
        return self.evm.accounts[5]

    def config(self, confirmations: int = 0, url: str | None = None, chain: dict | None = None,
               dex: bool = True) -> KimeraConfig:  # fmt: skip
        tokens = [
            {"symbol": name, "address": c.address, "decimals": 18, "asset": name, "whale_threshold": 1000}
            for name, c in {**self.uni.tokens, "WETH": self.uni.weth}.items()
        ]
        section = {
            "source": "rpc",
            "name": "testchain",
            "rpc_url": url or self.rpc.url,
            "confirmations": confirmations,
            "tokens": tokens,
            "exchange_wallets": [{"address": self.exchange_wallet, "label": "binance"}],
            "retry": FAST_RETRY,
            **(chain or {}),
        }
        pools = [
            {"address": self.pair.address, "dex": "uniswap_v2", "token0": self.token0, "token1": self.token1}
        ]
        return config_with(chain=section, dex={"source": "rpc", "pools": pools} if dex else {"source": "sim"})

    def window(self, first_block: int, last_block: int) -> tuple[datetime, datetime]:
        """The time window holding exactly blocks first..last (eth-tester blocks are 1 s apart)."""
        start = self.evm.block_time(first_block)
        end = self.evm.block_time(last_block) + 1
        return EPOCH + timedelta(seconds=start), EPOCH + timedelta(seconds=end)


@pytest.fixture(scope="module")
def _deployed_chain() -> Iterator[ChainWorld]:
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer

    evm = Evm()
    uni = deploy_uniswap_v2(evm)
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    pair = uni.create_pair(a, b, 10**24, 2 * 10**24)
    first = pair.functions.token0().call()
    token0, token1 = ("TKA", "TKB") if first == a.address else ("TKB", "TKA")
    with JsonRpcServer(evm.w3) as rpc:
        yield ChainWorld(evm, uni, rpc, pair, token0, token1)


@pytest.fixture
def chain_world(_deployed_chain: ChainWorld, kimera_home) -> Iterator[ChainWorld]:
    """The deployed chain, reverted to its deployed state after each test (eth-tester snapshot)."""
    from marketsim.rpc_server import RpcFaults

    world = _deployed_chain
    snapshot = world.evm.tester.take_snapshot()
    world.rpc.calls.clear()
    try:
        yield world
    finally:
        world.evm.tester.enable_auto_mine_transactions()
        world.evm.tester.revert_to_snapshot(snapshot)
        world.rpc.faults = RpcFaults()
        world.rpc.calls.clear()
