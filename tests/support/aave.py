"""Aave V3 (``@aave/core-v3`` 1.19.3) deployed for real on the in-process EVM: addresses provider, ACL,
the Pool behind its proxy (its logic libraries deployed and linked, see ``linkReferences``), the
configurator, an AaveOracle over mock Chainlink aggregators, and two reserves (USDC, 6 decimals, and
WETH, 18) with aTokens, debt tokens and the default interest-rate strategy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from web3.contract import Contract

from marketsim.local_evm import MAX_UINT, Evm

ROOT = (
    Path(__file__).resolve().parents[2]
    / "evm"
    / "node_modules"
    / "@aave"
    / "core-v3"
    / "artifacts"
    / "contracts"
)
RAY = 10**27


@cache
def aave_artefact(name: str) -> dict:
    found = [
        p
        for p in ROOT.rglob(f"{name}.json")
        if "interfaces" not in p.parts and not p.name.endswith(".dbg.json")
    ]
    if not found:
        raise FileNotFoundError(f"{name} not under {ROOT}: run `npm ci` in evm/")
    return json.loads(found[0].read_text())


@dataclass
class Aave:
    evm: Evm
    provider: Contract
    pool: Contract
    configurator: Contract
    oracle: Contract
    tokens: dict[str, Contract] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)

    def set_price(self, symbol: str, usd: float) -> None:
        """Move the oracle: a new aggregator answering ``usd`` (8 decimals) for the asset."""
        aggregator = deploy(self.evm, "MockAggregator", int(usd * 10**8))
        self.evm.send(
            self.oracle.functions.setAssetSources([self.tokens[symbol].address], [aggregator.address])
        )

    def fund(self, symbol: str, who: str, amount: int) -> None:
        token = self.tokens[symbol]
        self.evm.send(token.functions.mint(who, amount), sender=who)
        self.evm.send(token.functions.approve(self.pool.address, MAX_UINT), sender=who)


def deploy(evm: Evm, name: str, *args: Any, libraries: dict[str, str] | None = None) -> Contract:
    art = aave_artefact(name)
    code = art["bytecode"][2:]
    for _file, libs in art["linkReferences"].items():
        for lib, spots in libs.items():
            address = (libraries or {})[lib][2:].lower()
            for spot in spots:
                start = 2 * spot["start"]
                code = code[:start] + address + code[start + 2 * spot["length"] :]
    receipt = evm.wait(evm.w3.eth.contract(abi=art["abi"], bytecode="0x" + code).constructor(*args)
                       .transact({"from": evm.owner}))  # fmt: skip
    return evm.w3.eth.contract(address=receipt.contractAddress, abi=art["abi"])


def at(evm: Evm, name: str, address: str) -> Contract:
    return evm.w3.eth.contract(address=address, abi=aave_artefact(name)["abi"])


def deploy_aave_v3(evm: Evm, prices: dict[str, float] | None = None) -> Aave:
    prices = prices or {"USDC": 1.0, "WETH": 2000.0}
    owner = evm.owner
    provider = deploy(evm, "PoolAddressesProvider", "kimera", owner)
    evm.send(provider.functions.setACLAdmin(owner))
    acl = deploy(evm, "ACLManager", provider.address)
    evm.send(provider.functions.setACLManager(acl.address))
    evm.send(acl.functions.addPoolAdmin(owner))
    libraries: dict[str, str] = {}
    for lib in ("SupplyLogic", "BorrowLogic", "LiquidationLogic", "EModeLogic", "BridgeLogic", "PoolLogic",
                "FlashLoanLogic", "ConfiguratorLogic"):  # fmt: skip
        libraries[lib] = deploy(evm, lib, libraries=libraries).address
    evm.send(
        provider.functions.setPoolImpl(deploy(evm, "Pool", provider.address, libraries=libraries).address)
    )
    pool = at(evm, "Pool", provider.functions.getPool().call())
    evm.send(
        provider.functions.setPoolConfiguratorImpl(
            deploy(evm, "PoolConfigurator", libraries=libraries).address
        )
    )
    configurator = at(evm, "PoolConfigurator", provider.functions.getPoolConfigurator().call())
    tokens = {"USDC": deploy(evm, "MintableERC20", "USD Coin", "USDC", 6),
              "WETH": deploy(evm, "MintableERC20", "Wrapped Ether", "WETH", 18)}  # fmt: skip
    sources = [deploy(evm, "MockAggregator", int(prices[s] * 10**8)).address for s in tokens]
    oracle = deploy(evm, "AaveOracle", provider.address, [t.address for t in tokens.values()], sources,
                    "0x" + "00" * 20, "0x" + "00" * 20, 10**8)  # fmt: skip
    evm.send(provider.functions.setPriceOracle(oracle.address))
    a_token, stable, variable = (
        deploy(evm, n, pool.address) for n in ("AToken", "StableDebtToken", "VariableDebtToken")
    )
    strategy = deploy(evm, "DefaultReserveInterestRateStrategy", provider.address, 8 * RAY // 10, 0, 4 * RAY // 100,
                      75 * RAY // 100, 2 * RAY // 100, 75 * RAY // 100, 2 * RAY // 100, 5 * RAY // 100, 2 * RAY // 10)  # fmt: skip
    reserves = [(a_token.address, stable.address, variable.address, token.functions.decimals().call(), strategy.address,
                 token.address, owner, "0x" + "00" * 20, f"Aave {s}", f"a{s}", f"Variable debt {s}", f"variableDebt{s}",
                 f"Stable debt {s}", f"stableDebt{s}", b"") for s, token in tokens.items()]  # fmt: skip
    evm.send(configurator.functions.initReserves(reserves))
    for token in tokens.values():
        evm.send(configurator.functions.configureReserveAsCollateral(token.address, 8000, 8250, 10500))
        evm.send(configurator.functions.setReserveBorrowing(token.address, True))
    return Aave(evm, provider, pool, configurator, oracle, tokens, libraries)
