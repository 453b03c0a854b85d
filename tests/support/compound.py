"""A Compound V3 stand-in on the in-process EVM: ``CometEvents`` (tests/support/solidity/), compiled
with the solc-js in evm/ on first use, moves real ERC-20 tokens and emits Comet's events with the
signatures of Comet's published ABI. Comet's own bytecode is not on npm, so its accounting is not run.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from web3.contract import Contract

from marketsim.local_evm import Evm

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "support" / "solidity" / "CometEvents.sol"


@cache
def comet_events_build() -> dict:
    """{abi, bytecode} of CometEvents, compiled by evm/compile_solidity.js."""
    out = subprocess.run(
        ["node", "compile_solidity.js", str(SOURCE)],
        cwd=ROOT / "evm",
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.stdout)["CometEvents"]


def deploy_comet_events(evm: Evm, base_token: str) -> Contract:
    c = comet_events_build()
    factory = evm.w3.eth.contract(abi=c["abi"], bytecode=c["bytecode"])
    receipt = evm.send(factory.constructor(base_token))
    return evm.w3.eth.contract(address=receipt.contractAddress, abi=c["abi"])
