"""An in-process EVM (eth-tester + py-evm) with the real Uniswap V2 contracts from npm.

``deploy_uniswap_v2(Evm())`` deploys the v2-core Factory, two test ERC-20s (v2-core's ``ERC20``:
symbol UNI-V2, 18 decimals) and WETH9, Router02 from v2-periphery (its init-code hash matches the
npm Pair bytecode), and creates pairs. Every transaction's receipt status is checked: an explicit
gas limit would otherwise hide a revert. Serve the chain over HTTP with
:class:`marketsim.rpc_server.JsonRpcServer` to reach it exactly as a mainnet node.

Artefacts come from ``evm/node_modules/@uniswap/{v2-core,v2-periphery}/build`` (``make setup``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.providers.eth_tester.defaults import API_ENDPOINTS, static_return

BUILD = Path(__file__).resolve().parents[1] / "evm" / "node_modules" / "@uniswap"
MAX_UINT = 2**256 - 1


@cache
def artefact(package: str, name: str) -> tuple[list[dict], str]:
    """(ABI, bytecode) of ``<package>/build/<name>.json``; package is v2-core or v2-periphery."""
    path = BUILD / package / "build" / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make setup` (npm ci in evm/)")
    data = json.loads(path.read_text())
    bytecode = data.get("bytecode") or data["evm"]["bytecode"]["object"]
    return data["abi"], bytecode if bytecode.startswith("0x") else "0x" + bytecode


class Evm:
    """One chain, its Web3 (EthereumTesterProvider) and funded accounts."""

    def __init__(self, chain_id: int | None = None) -> None:
        backend = PyEVMBackend()
        endpoints = None
        if chain_id is not None:  # a second chain: its transactions and eth_chainId say so
            type(backend.chain).chain_id = chain_id  # the class is made per backend
            endpoints = {ns: dict(calls) for ns, calls in API_ENDPOINTS.items()}
            endpoints["eth"]["chainId"] = static_return(chain_id)
        self.tester = EthereumTester(backend)
        self.w3 = Web3(EthereumTesterProvider(self.tester, api_endpoints=endpoints))
        self.accounts = list(self.w3.eth.accounts)
        self.owner = self.accounts[0]

    def deploy(self, package: str, name: str, *args: Any, sender: str | None = None) -> Contract:
        abi, bytecode = artefact(package, name)
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.wait(factory.constructor(*args).transact({"from": sender or self.owner}))
        return self.w3.eth.contract(address=receipt.contractAddress, abi=abi)

    def at(self, package: str, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=address, abi=artefact(package, name)[0])

    def wait(self, tx_hash: bytes) -> Any:
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        if receipt.status != 1:
            raise AssertionError(f"transaction {Web3.to_hex(tx_hash)} reverted")
        return receipt

    def send(self, call: Any, sender: str | None = None, value: int = 0) -> Any:
        """Transact a contract call from ``sender`` and return its (successful) receipt."""
        return self.wait(call.transact({"from": sender or self.owner, "value": value}))

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    @property
    def head(self) -> int:
        return self.w3.eth.block_number

    def block_time(self, number: int | str = "latest") -> int:
        return self.w3.eth.get_block(number)["timestamp"]


@dataclass
class UniswapV2:
    evm: Evm
    factory: Contract
    router: Contract
    weth: Contract
    tokens: dict[str, Contract] = field(default_factory=dict)

    def pair(self, a: Contract, b: Contract) -> Contract:
        address = self.factory.functions.getPair(a.address, b.address).call()
        return self.evm.at("v2-core", "UniswapV2Pair", address)

    def create_pair(self, a: Contract, b: Contract, amount_a: int, amount_b: int) -> Contract:
        """Create the pair and add liquidity through Router02."""
        evm = self.evm
        evm.send(self.factory.functions.createPair(a.address, b.address))
        for token in (a, b):
            evm.send(token.functions.approve(self.router.address, MAX_UINT))
        deadline = evm.block_time() + 3600
        evm.send(
            self.router.functions.addLiquidity(
                a.address, b.address, amount_a, amount_b, 0, 0, evm.owner, deadline
            )
        )
        return self.pair(a, b)

    def swap_exact_in(self, token_in: Contract, token_out: Contract, amount_in: int, trader: str) -> Any:
        """Router02 swapExactTokensForTokens from ``trader`` (who must hold and approve the input)."""
        evm = self.evm
        evm.send(token_in.functions.approve(self.router.address, MAX_UINT), sender=trader)
        deadline = evm.block_time() + 3600
        call = self.router.functions.swapExactTokensForTokens(
            amount_in, 0, [token_in.address, token_out.address], trader, deadline
        )
        return evm.send(call, sender=trader)


def deploy_uniswap_v2(evm: Evm, supply: int = 10**30) -> UniswapV2:
    """Factory, WETH9, Router02 and two test tokens TKA/TKB (v2-core's ERC20, supply to the owner)."""
    factory = evm.deploy("v2-core", "UniswapV2Factory", evm.owner)
    weth = evm.deploy("v2-periphery", "WETH9")
    router = evm.deploy("v2-periphery", "UniswapV2Router02", factory.address, weth.address)
    tokens = {name: evm.deploy("v2-core", "ERC20", supply) for name in ("TKA", "TKB")}
    return UniswapV2(evm, factory, router, weth, tokens)


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: the 0.3 % fee formula, in integers."""
    amount_in_with_fee = amount_in * 997
    return amount_in_with_fee * reserve_out // (reserve_in * 1000 + amount_in_with_fee)


# A tiny hand-assembled contract that emits LOG3(topic0, topic1, topic2, data) from its calldata
# (calldata = topic0 | topic1 | topic2 | data). It puts events of contracts we have no bytecode
# for (Uniswap V3 pools) on the chain, at a real address, for the log readers to find.


def _emitter_runtime() -> bytes:
    ops = [
        "6060",  # PUSH1 0x60
        "36",  # CALLDATASIZE
        "03",  # SUB            -> len = size - 0x60
        "80",  # DUP1
        "6060",  # PUSH1 0x60     (source offset)
        "6000",  # PUSH1 0x00     (memory offset)
        "37",  # CALLDATACOPY   memory[0:len] = calldata[0x60:]
        "604035",  # CALLDATALOAD(0x40) -> topic2
        "602035",  # CALLDATALOAD(0x20) -> topic1
        "600035",  # CALLDATALOAD(0x00) -> topic0
        "83",  # DUP4 -> len
        "6000",  # PUSH1 0 -> memory offset
        "a3",  # LOG3(offset, len, topic0, topic1, topic2)
        "00",  # STOP
    ]
    return bytes.fromhex("".join(ops))


def deploy_log_emitter(evm: Evm) -> str:
    runtime = _emitter_runtime()
    init = bytes.fromhex(f"60{len(runtime):02x}80600b6000396000f3") + runtime
    tx = evm.w3.eth.send_transaction({"from": evm.owner, "data": Web3.to_hex(init)})
    receipt = evm.wait(tx)
    return receipt.contractAddress


def emit_log(evm: Evm, emitter: str, topics: list[bytes], data: bytes) -> Any:
    """Emit one log with three topics from ``emitter``; returns the receipt."""
    if len(topics) != 3:
        raise ValueError("the emitter writes exactly three topics")
    calldata = b"".join(t.rjust(32, b"\0") for t in topics) + data
    return evm.wait(
        evm.w3.eth.send_transaction({"from": evm.owner, "to": emitter, "data": Web3.to_hex(calldata)})
    )
