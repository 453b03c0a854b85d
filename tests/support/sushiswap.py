"""SushiSwap's V2 fork on the in-process EVM: Factory, Pair and Router02 compiled from @sushiswap/core's
sources by ``evm/compile_sushiswap.js`` (``make setup``), with the init code hash of this compilation
written into its router. ``deploy_sushiswap(evm, weth, tokens)`` gives the same helpers as Uniswap V2.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from web3.contract import Contract

from marketsim.local_evm import Evm, UniswapV2

EVM_DIR = Path(__file__).resolve().parents[2] / "evm"
BUILD = EVM_DIR / "build" / "sushiswap.json"


@cache
def sushiswap_build() -> dict:
    """The compiled contracts (compiled on first use when set-up has not)."""
    if not BUILD.is_file():
        subprocess.run(
            ["node", "compile_sushiswap.js"], cwd=EVM_DIR, check=True, capture_output=True, timeout=300
        )
    return json.loads(BUILD.read_text())


class SushiSwap(UniswapV2):
    def pair(self, a: Contract, b: Contract) -> Contract:
        address = self.factory.functions.getPair(a.address, b.address).call()
        return self.evm.w3.eth.contract(address=address, abi=sushiswap_build()["UniswapV2Pair"]["abi"])


def _deploy(evm: Evm, name: str, *args) -> Contract:
    c = sushiswap_build()[name]
    receipt = evm.wait(
        evm.w3.eth.contract(abi=c["abi"], bytecode=c["bytecode"])
        .constructor(*args)
        .transact({"from": evm.owner})
    )
    return evm.w3.eth.contract(address=receipt.contractAddress, abi=c["abi"])


def deploy_sushiswap(evm: Evm, weth: Contract, tokens: dict[str, Contract]) -> SushiSwap:
    """SushiSwap's factory and router on ``evm``, trading the given WETH and tokens."""
    factory = _deploy(evm, "UniswapV2Factory", evm.owner)
    router = _deploy(evm, "UniswapV2Router02", factory.address, weth.address)
    return SushiSwap(evm, factory, router, weth, dict(tokens))
