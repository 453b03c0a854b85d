"""Fixtures for live venues, offline: the local Binance (real ccxt client, signed trading endpoints)
and an eth-tester chain with the real Uniswap V2 Factory, Pair, Router02 and WETH9 behind JSON-RPC."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_account import Account

from kimera.config import KimeraConfig, load_config
from kimera.settings import get_settings
from marketsim.exchange_server import ExchangeServer
from tests.execution.conftest import FAST
from tests.support.config import shipped_config_data
from tests.support.exchange_orders import BinanceOrders

API_KEY = "vk3J8sQmZr2LwX9pNc4TbE7yHa1UdG6f"
API_SECRET = "S3cr3t-binance-5f2c9e71d84a4b0c9e1f7a26b3d8c4e0"
SIGNING_SECRET = "kimera-signing-secret-0c4e2a9d1b7f4e3a8c6d5b2f"


@pytest.fixture
def exchange(monkeypatch) -> Iterator[tuple[ExchangeServer, BinanceOrders]]:
    """The local exchange with one funded account whose keys are given as secrets."""
    monkeypatch.setenv("KIMERA_SECRET_BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("KIMERA_SECRET_BINANCE_SECRET", API_SECRET)
    with ExchangeServer() as server:
        orders = BinanceOrders(
            server, API_KEY, API_SECRET, {"USDT": 1_000_000, "BTC": 10, "ETH": 100}
        ).attach()
        yield server, orders


def ccxt_ref(server: ExchangeServer, **extra: Any) -> dict[str, Any]:
    return {"name": "binance", "type": "ccxt", "exchange": "binance", "api_base": server.base_url,
            "rate_limit": False, "timeout_s": 2.0, **extra}  # fmt: skip


# --- the chain ------------------------------------------------------------------------------------
@dataclass
class Dex:
    evm: Any
    uni: Any
    rpc: Any
    usdc: Any  # a v2-core ERC20 (18 decimals) standing in for USDC
    pair: Any = None
    trader: str = ""
    trader_key: str = ""

    @property
    def weth(self) -> Any:
        return self.uni.weth

    def reserves(self) -> tuple[int, int]:
        """(WETH, USDC) reserves of the pair, in raw units."""
        r0, r1, _ = self.pair.functions.getReserves().call()
        weth_first = self.pair.functions.token0().call() == self.weth.address
        return (r0, r1) if weth_first else (r1, r0)

    def balance(self, token: Any, who: str | None = None) -> int:
        return token.functions.balanceOf(who or self.trader).call()

    def sections(self) -> dict[str, Any]:
        """chain and dex config sections naming this pool and its tokens."""
        weth_first = self.pair.functions.token0().call() == self.weth.address
        t0, t1 = ("WETH", "USDC") if weth_first else ("USDC", "WETH")
        return {
            "chain": {"source": "sim", "tokens": [
                {"symbol": "WETH", "address": self.weth.address, "decimals": 18, "asset": "ETH"},
                {"symbol": "USDC", "address": self.usdc.address, "decimals": 18, "asset": "USD"},
            ]},
            "dex": {"source": "sim", "pools": [
                {"address": self.pair.address, "dex": "uniswap_v2", "token0": t0, "token1": t1, "fee_bps": 30}
            ]},
        }  # fmt: skip

    def venue(self, **extra: Any) -> dict[str, Any]:
        return {"name": "uni", "type": "uniswap", "pool": self.pair.address, "router": self.uni.router.address,
                "rpc_url": self.rpc.url, "receipt_wait_s": 5.0, **extra}  # fmt: skip


@pytest.fixture(scope="module")
def _chain() -> Iterator[Dex]:
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer

    evm = Evm()
    uni = deploy_uniswap_v2(evm)
    evm.send(uni.weth.functions.deposit(), value=5_000 * 10**18)
    with JsonRpcServer(evm.w3) as rpc:
        yield Dex(evm, uni, rpc, uni.tokens["TKA"])


@pytest.fixture
def make_pool(_chain: Dex, monkeypatch, kimera_home):
    """``make_pool(price, weth=1000)``: a WETH/USDC pair at ``price`` and a funded trader whose key is
    the secret ``uni_private_key``; the chain goes back to its deployed state after the test."""
    evm = _chain.evm
    snapshot = evm.tester.take_snapshot()

    def make(price: float, weth: float = 1000.0) -> Dex:
        uni = _chain.uni
        _chain.pair = uni.create_pair(uni.weth, _chain.usdc, int(weth * 10**18), int(weth * price * 10**18))
        account = Account.create()
        _chain.trader, _chain.trader_key = account.address, account.key.hex()
        evm.w3.eth.send_transaction({"from": evm.owner, "to": account.address, "value": 10 * 10**18})
        evm.send(uni.weth.functions.transfer(account.address, 50 * 10**18))
        evm.send(_chain.usdc.functions.transfer(account.address, 500_000 * 10**18))
        monkeypatch.setenv("KIMERA_SECRET_UNI_PRIVATE_KEY", _chain.trader_key)
        get_settings.cache_clear()
        return _chain

    try:
        yield make
    finally:
        evm.tester.enable_auto_mine_transactions()
        evm.tester.revert_to_snapshot(snapshot)
        _chain.pair = None


def write_live_config(path: Path, execution: dict[str, Any], **sections: Any) -> Path:
    """The shipped config, FAST execution settings merged with ``execution``, top-level ``sections`` replaced."""
    data = shipped_config_data()  # its first chain: the sections these tests replace are `chain:`'s
    data.update(sections)
    section = data.setdefault("execution", {})
    for key, value in {**FAST, **execution}.items():
        if isinstance(value, dict) and isinstance(section.get(key), dict):
            section[key] = {**section[key], **value}
        else:
            section[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def live_config(tmp_path: Path, execution: dict[str, Any], **sections: Any) -> KimeraConfig:
    return load_config(write_live_config(tmp_path / "kimera.yaml", execution, **sections))


def dec(raw: int, decimals: int = 18) -> Decimal:
    return Decimal(raw).scaleb(-decimals)
