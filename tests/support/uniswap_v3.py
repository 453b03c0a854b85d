"""The real Uniswap V3 contracts from npm on the in-process EVM.

``deploy_uniswap_v3(evm)`` deploys v3-core's ``UniswapV3Factory`` and v3-periphery's
``NonfungiblePositionManager`` and ``SwapRouter`` (their ``PoolAddress`` init-code hash is the one of
the npm pool bytecode, so they find the pools the factory creates), plus two test tokens and WETH9.
``create_pool`` initialises a pool at a price, ``mint`` adds a position over a tick range through
the position manager, ``swap_exact_in``/``swap_exact_out`` trade through the SwapRouter.

Artefacts: ``evm/node_modules/@uniswap/{v3-core,v3-periphery}/artifacts/contracts`` (``npm ci`` in evm/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from marketsim.local_evm import MAX_UINT, Evm

NODE_MODULES = Path(__file__).resolve().parents[2] / "evm" / "node_modules" / "@uniswap"
FEE_SPACING = {500: 10, 3000: 60, 10000: 200}


@cache
def v3_artefact(package: str, name: str) -> tuple[list[dict], str]:
    """(ABI, bytecode) of the contract ``name`` under ``<package>/artifacts/contracts``."""
    root = NODE_MODULES / package / "artifacts" / "contracts"
    found = [p for p in root.rglob(f"{name}.json") if "interfaces" not in p.parts]
    if not found:
        raise FileNotFoundError(f"{name} not under {root}: run `npm ci` in evm/")
    data = json.loads(found[0].read_text())
    return data["abi"], data["bytecode"]


def deploy_v3(evm: Evm, package: str, name: str, *args: Any) -> Contract:
    abi, bytecode = v3_artefact(package, name)
    receipt = evm.wait(
        evm.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).transact({"from": evm.owner})
    )
    return evm.w3.eth.contract(address=receipt.contractAddress, abi=abi)


@dataclass
class UniswapV3:
    evm: Evm
    factory: Contract
    positions: Contract  # NonfungiblePositionManager
    router: Contract  # SwapRouter
    weth: Contract
    tokens: dict[str, Contract] = field(default_factory=dict)

    def pool(self, a: Contract, b: Contract, fee: int) -> Contract:
        address = self.factory.functions.getPool(a.address, b.address, fee).call()
        return self.evm.w3.eth.contract(address=address, abi=v3_artefact("v3-core", "UniswapV3Pool")[0])

    def sorted_pair(self, a: Contract, b: Contract) -> tuple[Contract, Contract]:
        return (a, b) if int(a.address, 16) < int(b.address, 16) else (b, a)

    def create_pool(self, a: Contract, b: Contract, fee: int, sqrt_price_x96: int) -> Contract:
        """Create and initialise the pool of (a, b, fee) at ``sqrt_price_x96`` (token1 per token0)."""
        t0, t1 = self.sorted_pair(a, b)
        self.evm.send(
            self.positions.functions.createAndInitializePoolIfNecessary(
                t0.address, t1.address, fee, sqrt_price_x96
            )
        )
        return self.pool(t0, t1, fee)

    def mint(self, pool: Contract, tick_lower: int, tick_upper: int, amount0: int, amount1: int,
             owner: str | None = None) -> Any:  # fmt: skip
        """Add a position over [tick_lower, tick_upper) with at most these amounts; returns the receipt."""
        evm = self.evm
        owner = owner or evm.owner
        t0, t1 = pool.functions.token0().call(), pool.functions.token1().call()
        for token in (t0, t1):
            erc20 = self.token_at(token)
            if erc20.functions.allowance(owner, self.positions.address).call() < MAX_UINT // 2:
                evm.send(erc20.functions.approve(self.positions.address, MAX_UINT), sender=owner)
        params = (t0, t1, pool.functions.fee().call(), tick_lower, tick_upper, amount0, amount1, 0, 0, owner,
                  evm.block_time() + 3600)  # fmt: skip
        return evm.send(self.positions.functions.mint(params), sender=owner)

    def token_at(self, address: str) -> Contract:
        for token in (*self.tokens.values(), self.weth):
            if token.address == address:
                return token
        raise KeyError(address)

    def swap_exact_in(self, pool: Contract, token_in: Contract, amount_in: int, trader: str) -> Any:
        evm = self.evm
        token_out = self._other(pool, token_in)
        self._approve_router(token_in, trader)
        params = (token_in.address, token_out.address, pool.functions.fee().call(), trader,
                  evm.block_time() + 3600, amount_in, 0, 0)  # fmt: skip
        return evm.send(self.router.functions.exactInputSingle(params), sender=trader)

    def swap_exact_out(self, pool: Contract, token_in: Contract, amount_out: int, trader: str) -> Any:
        evm = self.evm
        token_out = self._other(pool, token_in)
        self._approve_router(token_in, trader)
        params = (token_in.address, token_out.address, pool.functions.fee().call(), trader,
                  evm.block_time() + 3600, amount_out, MAX_UINT >> 1, 0)  # fmt: skip
        return evm.send(self.router.functions.exactOutputSingle(params), sender=trader)

    def _approve_router(self, token: Contract, trader: str) -> None:
        if token.functions.allowance(trader, self.router.address).call() < MAX_UINT // 2:
            self.evm.send(token.functions.approve(self.router.address, MAX_UINT), sender=trader)

    def _other(self, pool: Contract, token: Contract) -> Contract:
        t0, t1 = pool.functions.token0().call(), pool.functions.token1().call()
        return self.token_at(t1 if token.address == t0 else t0)


def deploy_uniswap_v3(evm: Evm, supply: int = 10**30) -> UniswapV3:
    """Factory, WETH9, NonfungiblePositionManager, SwapRouter and test tokens TKA/TKB (owner holds all)."""
    factory = deploy_v3(evm, "v3-core", "UniswapV3Factory")
    weth = evm.deploy("v2-periphery", "WETH9")
    # the descriptor only renders tokenURI; no position here asks for it
    positions = deploy_v3(evm, "v3-periphery", "NonfungiblePositionManager", factory.address, weth.address,
                          "0x" + "00" * 19 + "01")  # fmt: skip
    router = deploy_v3(evm, "v3-periphery", "SwapRouter", factory.address, weth.address)
    tokens = {name: evm.deploy("v2-core", "ERC20", supply) for name in ("TKA", "TKB")}
    return UniswapV3(evm, factory, positions, router, weth, tokens)


def encode_sqrt_price(price: float) -> int:
    """sqrtPriceX96 for a price of token1 per token0 (raw units)."""
    return int(price**0.5 * 2**96)


def pool_address(contract: Contract) -> str:
    return Web3.to_checksum_address(contract.address)
