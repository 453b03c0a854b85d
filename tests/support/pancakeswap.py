"""PancakeSwap's V2-shaped Factory and Pair from npm (``@pancakeswap-libs/pancake-swap-core`` 0.1.0,
ABI and bytecode in its ``build/``), unpacked by ``make setup`` into ``evm/build/pancakeswap`` (or on
first use here). That package has no router: :func:`swap_exact_in` trades a pair the way a router
does it (transfer the input to the pair, then ``swap`` for the output its 0.2 % fee allows), and
:func:`deploy_router` deploys PancakeSwap's own router, compiled from the Solidity sources of
``pancakeswap-peripheral`` 1.1.0-beta.0 by ``evm/compile_pancakeswap.js`` (``make setup``, or on first
use here)."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from web3.contract import Contract

from marketsim.local_evm import Evm

EVM_DIR = Path(__file__).resolve().parents[2] / "evm"
DIR = EVM_DIR / "build" / "pancakeswap"
BUILD = DIR / "package" / "build"
PERIPHERY = "pancakeswap-peripheral@1.1.0-beta.0"
FEE_PER_MILLE = 2  # PancakePair.swap: balance * 1000 - amountIn * 2


@cache
def artefact(name: str) -> tuple[list, str]:
    if not (DIR / ".done").is_file():
        DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "@pancakeswap-libs/pancake-swap-core@0.1.0", "--silent"], cwd=DIR,
                       check=True, capture_output=True, timeout=300)  # fmt: skip
        subprocess.run(["tar", "xzf", "pancakeswap-libs-pancake-swap-core-0.1.0.tgz"], cwd=DIR, check=True)
        (DIR / ".done").touch()
    data = json.loads((BUILD / f"{name}.json").read_text())
    return data["abi"], data["bytecode"] if data["bytecode"].startswith("0x") else "0x" + data["bytecode"]


@cache
def router_build() -> dict:
    """``evm/build/pancakeswap/router.json``: PancakeRouter's ABI and bytecode, and the init code hash
    of the npm Pair written into its PancakeLibrary (beside the BSC mainnet hash the package ships)."""
    out = DIR / "router.json"
    if not out.is_file():
        artefact("PancakePair")  # the core's sources and Pair bytecode
        periphery = DIR / "periphery"
        periphery.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", PERIPHERY, "--silent"], cwd=periphery, check=True, capture_output=True,
                       timeout=300)  # fmt: skip
        subprocess.run(["tar", "xzf", "pancakeswap-peripheral-1.1.0-beta.0.tgz"], cwd=periphery, check=True)
        subprocess.run(["node", "compile_pancakeswap.js"], cwd=EVM_DIR, check=True, capture_output=True,
                       timeout=600)  # fmt: skip
    return json.loads(out.read_text())


def deploy_router(evm: Evm, factory: Contract, weth: Contract) -> Contract:
    """PancakeRouter(factory, WETH) on ``evm``."""
    built = router_build()["PancakeRouter"]
    contract = evm.w3.eth.contract(abi=built["abi"], bytecode=built["bytecode"])
    receipt = evm.wait(contract.constructor(factory.address, weth.address).transact({"from": evm.owner}))
    return evm.w3.eth.contract(address=receipt.contractAddress, abi=built["abi"])


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """The largest output PancakePair's K check accepts for ``amount_in`` (0.2 % fee), in integers."""
    with_fee = amount_in * (1000 - FEE_PER_MILLE)
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def deploy_factory(evm: Evm) -> Contract:
    abi, bytecode = artefact("PancakeFactory")
    receipt = evm.wait(
        evm.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(evm.owner).transact({"from": evm.owner})
    )
    return evm.w3.eth.contract(address=receipt.contractAddress, abi=abi)


def create_pair(
    evm: Evm, factory: Contract, a: Contract, b: Contract, amount_a: int, amount_b: int
) -> Contract:
    """``factory.createPair``, then liquidity the pair's own way: transfer both tokens in, ``mint``."""
    evm.send(factory.functions.createPair(a.address, b.address))
    pair = evm.w3.eth.contract(address=factory.functions.getPair(a.address, b.address).call(),
                               abi=artefact("PancakePair")[0])  # fmt: skip
    evm.send(a.functions.transfer(pair.address, amount_a))
    evm.send(b.functions.transfer(pair.address, amount_b))
    evm.send(pair.functions.mint(evm.owner))
    return pair


def swap_exact_in(
    evm: Evm, pair: Contract, token_in: Contract, amount_in: int, trader: str
) -> tuple[int, object]:
    """Sell ``amount_in`` of ``token_in`` from ``trader`` into ``pair``; (amount out, the swap's receipt)."""
    r0, r1, _ = pair.functions.getReserves().call()
    zero_in = pair.functions.token0().call() == token_in.address
    out = get_amount_out(amount_in, r0 if zero_in else r1, r1 if zero_in else r0)
    evm.send(token_in.functions.transfer(pair.address, amount_in), sender=trader)
    receipt = evm.send(
        pair.functions.swap(0 if zero_in else out, out if zero_in else 0, trader, b""), sender=trader
    )
    return out, receipt
