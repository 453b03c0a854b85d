"""A Uniswap V3 pool as a venue: swaps through the real SwapRouter, quoted exactly before signing.

Everything the V2 venue does (signing, durable store, nonces, idempotence by client order id, the
id in the calldata, receipts, reverts, restarts) is inherited; only the pool's arithmetic and the
router's calls differ. A buy is ``exactOutputSingle`` (exactly the base amount out, at most the
bound in), a sell ``exactInputSingle`` (exactly the base amount in, at least the bound out). The
quote is not asked of a Quoter contract (a reverting ``eth_call`` per quote): the venue reads the
pool's price, liquidity and initialised ticks and runs the pool's own integer math
(:mod:`execution.amm.v3`), which equals the executed swap to the wei. The bound sent is that quote
moved by ``slippage_bps`` and never worse than the order's limit; the deadline is the router's.
"""

from __future__ import annotations

import time
from decimal import ROUND_UP, Decimal
from typing import Any

from eth_abi import decode
from web3 import Web3

from execution.amm.concentrated import concentrated_input
from execution.amm.v3 import Q96, SwapError, V3Pool, quote_exact_input, quote_exact_output
from execution.amm.v3_state import V3_POOL_ABI, read_pool_async
from execution.venues.base import OrderRejected, OrderRequest, PoolState, Side, VenueFill
from execution.venues.uniswap import PRICE_QUANTUM, UniswapVenue, _raw, _units

V3_SWAP_TOPIC = Web3.to_hex(Web3.keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)"))
TICK_WORDS = 4  # bitmap words read either side of the price: 9 x 256 tick spacings (±23 % in the 0.05 % tier)

_SINGLE = [("tokenIn", "address"), ("tokenOut", "address"), ("fee", "uint24"), ("recipient", "address"),
           ("deadline", "uint256"), ("amount", "uint256"), ("bound", "uint256"), ("sqrtPriceLimitX96", "uint160")]  # fmt: skip


def _single(name: str, amount: str, bound: str) -> dict[str, Any]:
    components = [{"name": {"amount": amount, "bound": bound}.get(n, n), "type": t} for n, t in _SINGLE]
    return {"name": name, "type": "function", "stateMutability": "payable",
            "inputs": [{"name": "params", "type": "tuple", "components": components}],
            "outputs": [{"name": "", "type": "uint256"}]}  # fmt: skip


SWAP_ROUTER_ABI = [
    _single("exactInputSingle", "amountIn", "amountOutMinimum"),
    _single("exactOutputSingle", "amountOut", "amountInMaximum"),
    {"name": "WETH9", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
]  # fmt: skip


class UniswapV3Venue(UniswapVenue):
    """SwapRouter swaps on one V3 pool (``ref.router`` is the SwapRouter, ``ref.pool`` the pool)."""

    swap_topic = V3_SWAP_TOPIC

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.router = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.ref.router), abi=SWAP_ROUTER_ABI
        )
        self.pair = self.w3.eth.contract(address=Web3.to_checksum_address(self.ref.pool), abi=V3_POOL_ABI)
        self.fee_pips = 0

    def __repr__(self) -> str:  # the key is never shown
        return f"UniswapV3Venue(name={self.name!r}, pool={self.ref.pool}, account={self.account})"

    async def connect(self) -> UniswapV3Venue:
        await super().connect()
        self.fee_pips = await self._rpc(self.pair.functions.fee().call())
        self.fee = self.fee_pips / 1_000_000  # the pool's tier, whatever the config's fee_bps says
        return self

    async def _weth(self) -> str:
        return await self._rpc(self.router.functions.WETH9().call())

    async def _state(self) -> V3Pool:
        return await self._rpc(read_pool_async(self.pair, TICK_WORDS))

    async def _reserves(self) -> tuple[int, int]:
        """In-range virtual reserves (L / sqrtP of token0, L * sqrtP of token1): the price and depth here."""
        sqrt_price_x96, *_ = await self._rpc(self.pair.functions.slot0().call())
        liquidity = await self._rpc(self.pair.functions.liquidity().call())
        r0, r1 = liquidity * Q96 // sqrt_price_x96, liquidity * sqrt_price_x96 // Q96
        return (r0, r1) if self.base_is_token0 else (r1, r0)

    async def pool(self, symbol: str) -> PoolState:
        state = await self._state()
        base, quote = await self._reserves()
        gas = await self._gas_quote(base, quote)
        d0, d1 = ((self.base_decimals, self.quote_decimals) if self.base_is_token0
                  else (self.quote_decimals, self.base_decimals))  # fmt: skip
        return PoolState(
            self.name, symbol, float(_units(base, self.base_decimals)), float(_units(quote, self.quote_decimals)),
            self.fee, gas, time.time(), concentrated_input(self.name, state, self.base_is_token0, d0, d1, gas),
        )  # fmt: skip

    async def _swap_call(self, request: OrderRequest, deadline: int) -> tuple[tuple[str, list], int, int]:
        slip = Decimal(str(self.ref.slippage_bps)) / Decimal(10_000)
        amount = _raw(request.amount, self.base_decimals)
        if amount <= 0:
            raise OrderRejected(f"{self.name}: amount {request.amount} is below one unit of the base token")
        base, quote = self.base.address, self.quote.address
        state = await self._state()
        buying = request.side is Side.BUY
        zero_for_one = self.base_is_token0 != buying  # selling token0, or buying token1 with token0
        try:
            quoted = (quote_exact_output if buying else quote_exact_input)(state, zero_for_one, amount)
        except SwapError as exc:
            raise OrderRejected(f"{self.name}: the pool cannot fill {request.amount}: {exc}") from None
        if buying:
            bound = _raw(_units(quoted, self.quote_decimals) * (1 + slip), self.quote_decimals, ROUND_UP)
            if request.limit_price is not None:
                limit = _raw(request.amount * request.limit_price, self.quote_decimals)
                if quoted > limit:
                    raise OrderRejected(
                        f"{self.name}: the pool quotes {_units(quoted, self.quote_decimals)} for "
                        f"{request.amount}, beyond the limit {request.limit_price} per unit"
                    )
                bound = min(bound, limit)
            params = (quote, base, self.fee_pips, self.account, deadline, amount, bound, 0)
            return ("exactOutputSingle", [params]), quoted, bound
        bound = _raw(_units(quoted, self.quote_decimals) * (1 - slip), self.quote_decimals)
        if request.limit_price is not None:
            limit = _raw(request.amount * request.limit_price, self.quote_decimals, ROUND_UP)
            if quoted < limit:
                raise OrderRejected(
                    f"{self.name}: the pool quotes {_units(quoted, self.quote_decimals)} for "
                    f"{request.amount}, below the limit {request.limit_price} per unit"
                )
            bound = max(bound, limit)
        params = (base, quote, self.fee_pips, self.account, deadline, amount, bound, 0)
        return ("exactInputSingle", [params]), quoted, bound

    def _fills_of(self, receipt, client_order_id: str, gas: Decimal) -> list[VenueFill]:
        fills = []
        for entry in receipt["logs"]:
            if (entry["address"].lower() != self.pair.address.lower()
                    or Web3.to_hex(entry["topics"][0]) != self.swap_topic):  # fmt: skip
                continue
            if "0x" + Web3.to_hex(entry["topics"][2])[-40:].lower() != self.account.lower():
                continue
            amount0, amount1, *_ = decode(
                ["int256", "int256", "uint160", "uint128", "int24"], bytes(entry["data"])
            )
            base_delta, quote_delta = (amount0, amount1) if self.base_is_token0 else (amount1, amount0)
            base_amount = _units(abs(base_delta), self.base_decimals)
            quote_amount = _units(abs(quote_delta), self.quote_decimals)
            fills.append(VenueFill(
                venue=self.name, fill_id=f"{Web3.to_hex(receipt['transactionHash'])}:{entry['logIndex']}",
                client_order_id=client_order_id, symbol=self.symbol,
                side=Side.BUY if base_delta < 0 else Side.SELL,  # base out of the pool: we bought
                price=(quote_amount / base_amount).quantize(PRICE_QUANTUM), amount=base_amount,
                fee=gas if not fills else Decimal(0), timestamp=time.time(),
            ))  # fmt: skip
        return fills
