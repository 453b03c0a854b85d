"""The EVM venue family: events and calls Kimera reads (ERC-20 Transfer, Uniswap V2 Swap/Sync,
Uniswap V3 Swap), the HTTP provider both sides build, and what a node's "slow down" looks like.

Shared by the chain and DEX sources (``pipelines.sources.rpc``, ``chain_rpc``, ``dex_rpc``) and
execution's Uniswap venue (``execution.venues.uniswap``).

Events are decoded from raw logs with eth-abi (the same bytes a node returns), so the decoders
are tested on encoded logs independently of any chain. Amounts stay exact integers until they are
divided by ``10**decimals`` once, at the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import aiohttp
from eth_abi import decode
from eth_abi.exceptions import DecodingError
from web3 import AsyncHTTPProvider, HTTPProvider, Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, TransactionNotFound, Web3RPCError


def topic(signature: str) -> str:
    """The 0x-prefixed keccak topic of an event signature."""
    return Web3.to_hex(Web3.keccak(text=signature))


TRANSFER = topic("Transfer(address,address,uint256)")
V2_SWAP = topic("Swap(address,uint256,uint256,uint256,uint256,address)")
V2_SYNC = topic("Sync(uint112,uint112)")
V3_SWAP = topic("Swap(address,address,int256,int256,uint160,uint128,int24)")
Q192 = 2**192

# The few functions read from contracts (token metadata, pool tokens, V3 fee).
ERC20_ABI = [
    {"name": "decimals", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
    {"name": "symbol", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "string"}]},
]  # fmt: skip
ERC20_BYTES32_SYMBOL_ABI = [
    {"name": "symbol", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "bytes32"}]},
]  # fmt: skip
POOL_ABI = [
    {"name": "token0", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"name": "token1", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"name": "fee", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint24"}]},
]  # fmt: skip


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else Web3.to_hex(value)


def _data(log: dict) -> bytes:
    data = log["data"]
    return bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)


def topic_address(value: Any) -> str:
    """The address in an indexed topic, lower-case 0x hex."""
    return "0x" + _hex(value)[-40:].lower()


def scaled(amount: int, decimals: int) -> float:
    """``amount / 10**decimals`` rounded once to the nearest double."""
    with localcontext() as ctx:
        ctx.prec = 80
        return float(Decimal(amount) / (Decimal(10) ** decimals))


@dataclass(frozen=True)
class LogRef:
    """Where a log sits: block, log index, transaction, emitting contract."""

    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    address: str

    @classmethod
    def of(cls, log: dict) -> LogRef:
        return cls(
            int(log["blockNumber"]),
            _hex(log["blockHash"]).lower(),
            int(log["logIndex"]),
            _hex(log["transactionHash"]).lower(),
            log["address"].lower(),
        )


def first_topic(log: dict) -> str:
    return _hex(log["topics"][0]).lower() if log["topics"] else ""


def decode_transfer(log: dict) -> tuple[str, str, int] | None:
    """(from, to, value) of an ERC-20 Transfer; None for an ERC-721 Transfer (token id indexed)."""
    topics = log["topics"]
    if len(topics) != 3:
        return None
    (value,) = decode(["uint256"], _data(log))
    return topic_address(topics[1]), topic_address(topics[2]), value


@dataclass(frozen=True)
class V2Swap:
    sender: str
    recipient: str
    amount0: int  # into the pool (negative: out of it), raw units
    amount1: int


def decode_v2_swap(log: dict) -> V2Swap:
    amount0_in, amount1_in, amount0_out, amount1_out = decode(["uint256"] * 4, _data(log))
    return V2Swap(
        topic_address(log["topics"][1]),
        topic_address(log["topics"][2]),
        amount0_in - amount0_out,
        amount1_in - amount1_out,
    )


def decode_v2_sync(log: dict) -> tuple[int, int]:
    """(reserve0, reserve1) after the update, raw units."""
    reserve0, reserve1 = decode(["uint112", "uint112"], _data(log))
    return reserve0, reserve1


@dataclass(frozen=True)
class V3Swap:
    sender: str
    recipient: str
    amount0: int  # signed, pool's view: positive = into the pool
    amount1: int
    sqrt_price_x96: int
    liquidity: int
    tick: int


def decode_v3_swap(log: dict) -> V3Swap:
    amount0, amount1, sqrt_price_x96, liquidity, tick = decode(
        ["int256", "int256", "uint160", "uint128", "int24"], _data(log)
    )
    return V3Swap(
        topic_address(log["topics"][1]),
        topic_address(log["topics"][2]),
        amount0,
        amount1,
        sqrt_price_x96,
        liquidity,
        tick,
    )


def reserves_price(reserve0: int, reserve1: int, decimals0: int, decimals1: int) -> float:
    """token1 per token0 from V2 reserves, decimal-adjusted (exact until the final rounding)."""
    if reserve0 == 0:
        return float("nan")
    return float(Fraction(reserve1 * 10**decimals0, reserve0 * 10**decimals1))


def sqrt_price_x96_price(sqrt_price_x96: int, decimals0: int, decimals1: int) -> float:
    """token1 per token0 from a V3 ``sqrtPriceX96``: ``(sqrtP / 2**96)**2 * 10**(d0 - d1)``."""
    return float(Fraction(sqrt_price_x96**2 * 10**decimals0, Q192 * 10**decimals1))


def tick_price(tick: int, decimals0: int, decimals1: int) -> float:
    """token1 per token0 at a V3 tick: ``1.0001**tick * 10**(d0 - d1)`` (for cross-checks)."""
    return 1.0001**tick * 10 ** (decimals0 - decimals1)


def read_symbol(w3: Web3, address: str) -> str | None:
    """An ERC-20's symbol (string or bytes32 ABI), or None when the contract has none."""
    checksum = Web3.to_checksum_address(address)
    for abi in (ERC20_ABI, ERC20_BYTES32_SYMBOL_ABI):
        try:
            value = w3.eth.contract(address=checksum, abi=abi).functions.symbol().call()
        except (ContractLogicError, BadFunctionCallOutput, DecodingError, OverflowError):
            continue  # no symbol(), or not the string ABI: try bytes32, then give up
        if isinstance(value, bytes):
            value = value.rstrip(b"\0").decode("utf-8", errors="replace")
        return str(value)
    return None


def http_provider(url: str, timeout_s: float, *, asynchronous: bool = False) -> Any:
    """A web3 HTTP provider with a per-request timeout and web3's own retries off: the caller
    decides what a failure means (the sources retry reads; a venue never resends a transaction)."""
    if asynchronous:
        return AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_s)},
            exception_retry_configuration=None,
        )
    return HTTPProvider(url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)


# A node or gateway refusing for rate: HTTP 429, "rate limit", "too many requests", or the JSON-RPC
# code providers use for it. Matched as words: a transaction hash may well contain "429".
_RATE_LIMIT_TEXT = re.compile(r"\b429\b|rate[ _-]?limit|too many requests|request limit", re.IGNORECASE)
_RATE_LIMIT_CODES = {429, -32005}


def rate_limited(exc: Web3RPCError) -> bool:
    """Whether an RPC error says "slow down" (retry later) rather than anything about the request."""
    if isinstance(exc, TransactionNotFound):
        return False
    response = exc.rpc_response if isinstance(exc.rpc_response, dict) else {}
    error = response.get("error")
    if isinstance(error, dict) and error.get("code") in _RATE_LIMIT_CODES:
        return True
    return bool(_RATE_LIMIT_TEXT.search(str(exc)))
