"""A Uniswap V2 pool as a venue: swaps through Router02, built and signed locally (web3.py 8).

One order is one swap. A buy takes an exact amount of the base token out
(``swapTokensForExactTokens``), a sell puts an exact amount in (``swapExactTokensForTokens``), so
the base amount always equals the order's. At send time the router quotes the swap
(``getAmountsIn`` / ``getAmountsOut``); the bound sent with it is that quote moved by
``slippage_bps``, and never worse than the order's limit price (beyond the limit the order is
refused without sending anything). ``eth_estimateGas`` catches a swap that would revert before
it costs gas; the gas limit is the estimate times ``gas_multiplier``, and because an explicit gas
limit hides reverts (the receipt says ``status=0`` and nothing raises), every receipt's status is
checked. Fees are EIP-1559 (base fee x 2 + tip, capped).

Idempotence by client order id, across restarts: before a signed transaction is broadcast it is
stored durably (``KIMERA_HOME/execution/uniswap_<venue>.sqlite``: client order id, nonce, hash,
the raw transaction, deadline). ``fetch_order`` reads it back and asks the chain: mined (filled
or reverted), pending (rebroadcast if the node forgot it), or dead (its deadline passed, or its
nonce was used by another transaction). The client order id is also appended to the swap's
calldata (Solidity ignores trailing bytes), so a swap on chain names the order that sent it.
Nonces are handed out under a lock, from the node's pending count, and re-read after a "nonce too
low". Fills are read from the pool's ``Swap`` logs paid to our account (the cursor is a block).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from pydantic import SecretStr
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from connect.evm import V2_SWAP, http_provider, rate_limited
from execution import redact
from execution.venues.base import (
    MarketRules,
    OrderNotFound,
    OrderRejected,
    OrderRequest,
    PoolState,
    RateLimited,
    Side,
    Venue,
    VenueError,
    VenueFill,
    VenueOrder,
    VenueStatus,
    VenueTimeout,
    VenueUnavailable,
    VenueUpdates,
)
from kimera.config import UniswapVenueRef

log = logging.getLogger("kimera.execution.uniswap")
ABI = json.loads((Path(__file__).with_name("uniswap_abi.json")).read_text())
MAX_UINT = 2**256 - 1
GWEI = 10**9
PRICE_QUANTUM = Decimal("1e-10")
SWAP_TOPIC = V2_SWAP


class SwapStore:
    """Signed swaps by client order id, written before they are broadcast (SQLite, synchronous=FULL)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            """CREATE TABLE IF NOT EXISTS swaps (client_order_id TEXT PRIMARY KEY, nonce INTEGER NOT NULL,
               tx_hash TEXT NOT NULL UNIQUE, raw_tx TEXT NOT NULL, side TEXT NOT NULL, amount TEXT NOT NULL,
               deadline INTEGER NOT NULL, created_at REAL NOT NULL)"""
        )

    def put(
        self, cid: str, nonce: int, tx_hash: str, raw: str, side: str, amount: str, deadline: int
    ) -> None:
        self.conn.execute(
            "INSERT INTO swaps VALUES (?,?,?,?,?,?,?,?)",
            (cid, nonce, tx_hash, raw, side, amount, deadline, time.time()),
        )

    def drop(self, cid: str) -> None:
        self.conn.execute("DELETE FROM swaps WHERE client_order_id = ?", (cid,))

    def get(self, cid: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT client_order_id, nonce, tx_hash, raw_tx, side, amount, deadline FROM swaps WHERE client_order_id = ?",
            (cid,),
        ).fetchone()
        return (
            None
            if row is None
            else dict(zip(("cid", "nonce", "tx_hash", "raw", "side", "amount", "deadline"), row, strict=True))
        )

    def by_hash(self, tx_hash: str) -> str | None:
        row = self.conn.execute(
            "SELECT client_order_id FROM swaps WHERE tx_hash = ?", (tx_hash.lower(),)
        ).fetchone()
        return row[0] if row else None

    def pending(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT client_order_id FROM swaps ORDER BY nonce")]

    def close(self) -> None:
        self.conn.close()


def _units(raw: int, decimals: int) -> Decimal:
    return Decimal(raw).scaleb(-decimals)


def _raw(amount: Decimal, decimals: int, rounding: str = ROUND_DOWN) -> int:
    return int(amount.scaleb(decimals).to_integral_value(rounding=rounding))


class UniswapVenue(Venue):
    """Router02 swaps on one pair. ``symbol`` is the service's symbol (e.g. ETH/USDT, quote at par)."""

    kind = "amm"
    swap_topic = SWAP_TOPIC  # the pool event a fill is read from

    def __init__(self, ref: UniswapVenueRef, symbol: str, fee: float, base_token: str, quote_token: str,
                 rpc_url: SecretStr, private_key: SecretStr, store_path: Path, rpc_url_is_secret: bool = False):  # fmt: skip
        self.name, self.ref, self.symbol, self.fee = ref.name, ref, symbol, fee
        self._key = private_key
        redact.register(private_key.get_secret_value(), private_key.get_secret_value().removeprefix("0x"))
        if rpc_url_is_secret:  # a provider URL with an API key in it
            redact.register(rpc_url.get_secret_value())
        self.account = Account.from_key(private_key.get_secret_value()).address
        # our own semantics: a lost send is unknown, not retried
        self.w3 = AsyncWeb3(http_provider(rpc_url.get_secret_value(), 10.0, asynchronous=True))
        self.router = self.w3.eth.contract(address=Web3.to_checksum_address(ref.router), abi=ABI["router"])
        self.pair = self.w3.eth.contract(address=Web3.to_checksum_address(ref.pool), abi=ABI["pair"])
        self.base = self.w3.eth.contract(address=Web3.to_checksum_address(base_token), abi=ABI["erc20"])
        self.quote = self.w3.eth.contract(address=Web3.to_checksum_address(quote_token), abi=ABI["erc20"])
        self.store = SwapStore(store_path)
        self._nonce_lock = asyncio.Lock()
        self._next_nonce: int | None = None
        self.base_decimals = self.quote_decimals = 18
        self.base_is_token0 = True
        self.chain_id = 0
        self.weth = ""
        self.start_block = 0
        self._gas_cache: tuple[float, float] = (0.0, 0.0)  # (gas_quote, at)

    def __repr__(self) -> str:  # the key is never shown
        return f"UniswapVenue(name={self.name!r}, pool={self.ref.pool}, account={self.account})"

    # --- connection ------------------------------------------------------------------------------
    async def _rpc(self, call, write: bool = False):
        """Await an RPC call; transport failures become venue errors (a write that times out is unknown)."""
        try:
            return await call
        except aiohttp.ClientConnectorError as exc:
            raise VenueUnavailable(f"{self.name}: cannot reach the node ({type(exc).__name__})") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = VenueTimeout if write else VenueUnavailable
            raise error(f"{self.name}: no answer from the node ({type(exc).__name__})") from None
        except Web3RPCError as exc:
            if rate_limited(exc):
                text = redact.redact(str(exc))
                raise RateLimited(1.0, f"{self.name}: {text[:200]}") from None
            raise

    async def connect(self) -> UniswapVenue:
        """Check the pool, tokens and router against the chain; approve the router when allowed."""
        self.chain_id = await self._rpc(self.w3.eth.chain_id)
        token0 = await self._rpc(self.pair.functions.token0().call())
        token1 = await self._rpc(self.pair.functions.token1().call())
        pair_tokens = {token0.lower(), token1.lower()}
        if {self.base.address.lower(), self.quote.address.lower()} != pair_tokens:
            raise VenueError(
                f"{self.name}: pool {self.ref.pool} holds {token0} and {token1}, not the configured tokens "
                f"{self.base.address} and {self.quote.address}"
            )
        self.base_is_token0 = token0.lower() == self.base.address.lower()
        self.base_decimals = await self._rpc(self.base.functions.decimals().call())
        self.quote_decimals = await self._rpc(self.quote.functions.decimals().call())
        self.weth = (await self._weth()).lower()
        if self.ref.native_price is None and self.weth not in pair_tokens:
            raise VenueError(
                f"{self.name}: the pool holds no WETH; set native_price (quote per ETH) for gas costs"
            )
        self.start_block = await self._rpc(self.w3.eth.block_number)
        if self.ref.auto_approve:
            for token in (self.base, self.quote):
                allowance = await self._rpc(
                    token.functions.allowance(self.account, self.router.address).call()
                )
                if allowance < MAX_UINT // 2:
                    await self._approve(token)
        return self

    async def _weth(self) -> str:
        return await self._rpc(self.router.functions.WETH().call())

    async def _approve(self, token) -> None:
        async with self._nonce_lock:
            tx = await self._rpc(token.functions.approve(self.router.address, MAX_UINT).build_transaction(
                {"from": self.account, "nonce": await self._nonce(), "chainId": self.chain_id, **await self._fees()}
            ))  # fmt: skip
            signed = Account.sign_transaction(tx, self._key.get_secret_value())
            tx_hash = await self._rpc(self.w3.eth.send_raw_transaction(signed.raw_transaction), write=True)
            self._next_nonce += 1
        receipt = await self._rpc(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120))
        if receipt["status"] != 1:
            raise VenueError(f"{self.name}: approving the router for {token.address} reverted")
        log.info("%s: router approved for %s", self.name, token.address)

    async def _nonce(self) -> int:
        """The next nonce (call with the nonce lock held)."""
        if self._next_nonce is None:
            self._next_nonce = await self._rpc(self.w3.eth.get_transaction_count(self.account, "pending"))
        return self._next_nonce

    async def _fees(self) -> dict[str, int]:
        block = await self._rpc(self.w3.eth.get_block("latest"))
        tip = int(self.ref.priority_fee_gwei * GWEI)
        cap = int(self.ref.max_fee_gwei * GWEI)
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": min(await self._rpc(self.w3.eth.gas_price), cap)}
        return {"maxFeePerGas": min(2 * base_fee + tip, cap), "maxPriorityFeePerGas": min(tip, cap)}

    # --- market data -----------------------------------------------------------------------------
    async def _reserves(self) -> tuple[int, int]:
        r0, r1, _ = await self._rpc(self.pair.functions.getReserves().call())
        return (r0, r1) if self.base_is_token0 else (r1, r0)

    async def _gas_quote(self, base_reserve: int, quote_reserve: int) -> float:
        """Gas of one swap in the quote currency, refreshed at most every 10 s."""
        cached, at = self._gas_cache
        if time.time() - at < 10:
            return cached
        fees = await self._fees()
        per_gas = fees.get("gasPrice") or fees["maxFeePerGas"] // 2 + fees["maxPriorityFeePerGas"] // 2
        if self.ref.native_price is not None:
            native = self.ref.native_price
        elif self.base.address.lower() == self.weth:
            native = float(
                _units(quote_reserve, self.quote_decimals) / _units(base_reserve, self.base_decimals)
            )
        else:
            native = 1.0  # the quote token is WETH
        value = self.ref.swap_gas * per_gas / 1e18 * native
        self._gas_cache = (value, time.time())
        return value

    async def markets(self) -> dict[str, MarketRules]:
        base, quote = await self._reserves()
        increment = Decimal(str(self.ref.amount_increment))
        return {
            self.symbol: MarketRules(
                symbol=self.symbol, price_increment=Decimal("1e-8"), amount_increment=increment,
                min_amount=increment, taker_fee=Decimal(str(self.fee)), rate_limit_per_s=self.ref.rate_limit_per_s,
                gas_quote=Decimal(repr(await self._gas_quote(base, quote))),
            )
        }  # fmt: skip

    async def pool(self, symbol: str) -> PoolState:
        base, quote = await self._reserves()
        return PoolState(
            self.name, symbol, float(_units(base, self.base_decimals)), float(_units(quote, self.quote_decimals)),
            self.fee, await self._gas_quote(base, quote), time.time(),
        )  # fmt: skip

    async def balances(self) -> dict[str, dict[str, Decimal]]:
        out = {}
        for token, decimals in ((self.base, self.base_decimals), (self.quote, self.quote_decimals)):
            symbol = await self._rpc(token.functions.symbol().call())
            amount = _units(await self._rpc(token.functions.balanceOf(self.account).call()), decimals)
            out[f"{symbol}@{token.address}"] = {"free": amount, "used": Decimal(0), "total": amount}
        eth = _units(await self._rpc(self.w3.eth.get_balance(self.account)), 18)
        out["ETH"] = {"free": eth, "used": Decimal(0), "total": eth}
        return out

    # --- orders ----------------------------------------------------------------------------------
    async def _swap_call(self, request: OrderRequest, deadline: int) -> tuple[tuple[str, list], int, int]:
        """The router call (name, args) for ``request``, the router's quote and the bound sent with it."""
        slip = Decimal(str(self.ref.slippage_bps)) / Decimal(10_000)
        amount = _raw(request.amount, self.base_decimals)
        if amount <= 0:
            raise OrderRejected(f"{self.name}: amount {request.amount} is below one unit of the base token")
        base, quote = self.base.address, self.quote.address
        if request.side is Side.BUY:
            quoted = (await self._rpc(self.router.functions.getAmountsIn(amount, [quote, base]).call()))[0]
            bound = _raw(_units(quoted, self.quote_decimals) * (1 + slip), self.quote_decimals, ROUND_UP)
            if request.limit_price is not None:
                limit = _raw(request.amount * request.limit_price, self.quote_decimals)
                if quoted > limit:
                    raise OrderRejected(
                        f"{self.name}: the router quotes {_units(quoted, self.quote_decimals)} for "
                        f"{request.amount}, beyond the limit {request.limit_price} per unit"
                    )
                bound = min(bound, limit)
            call = ("swapTokensForExactTokens", [amount, bound, [quote, base], self.account, deadline])
        else:
            quoted = (await self._rpc(self.router.functions.getAmountsOut(amount, [base, quote]).call()))[1]
            bound = _raw(_units(quoted, self.quote_decimals) * (1 - slip), self.quote_decimals)
            if request.limit_price is not None:
                limit = _raw(request.amount * request.limit_price, self.quote_decimals, ROUND_UP)
                if quoted < limit:
                    raise OrderRejected(
                        f"{self.name}: the router quotes {_units(quoted, self.quote_decimals)} for "
                        f"{request.amount}, below the limit {request.limit_price} per unit"
                    )
                bound = max(bound, limit)
            call = ("swapExactTokensForTokens", [amount, bound, [base, quote], self.account, deadline])
        return call, quoted, bound

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        cid = request.client_order_id
        if self.store.get(cid) is not None:  # placed before: the same order, never a second swap
            return await self.fetch_order(request.symbol, cid)
        if request.symbol != self.symbol:
            raise OrderRejected(f"{self.name} trades {self.symbol}, not {request.symbol}")
        if request.expires_at is not None and time.time() > request.expires_at:
            raise VenueUnavailable(f"{self.name}: the request expired before it was sent")
        async with self._nonce_lock:
            block = await self._rpc(self.w3.eth.get_block("latest"))
            deadline = int(max(time.time(), block["timestamp"]) + self.ref.deadline_s)
            call, quoted, bound = await self._swap_call(request, deadline)
            nonce = await self._nonce()
            tx = {"from": self.account, "to": self.router.address, "value": 0, "nonce": nonce,
                  "chainId": self.chain_id, **await self._fees()}  # fmt: skip
            tx["data"] = (
                self.router.encode_abi(call[0], args=call[1]) + cid.encode().hex()
            )  # the id rides along
            try:
                estimate = await self._rpc(self.w3.eth.estimate_gas(tx))
            except ContractLogicError as exc:
                raise OrderRejected(f"{self.name}: the swap would revert: {exc.message or exc}") from None
            except Web3RPCError as exc:
                raise OrderRejected(
                    f"{self.name}: the node refused the swap: {redact.redact(str(exc))[:200]}"
                ) from None
            tx["gas"] = int(estimate * self.ref.gas_multiplier)
            signed = Account.sign_transaction(tx, self._key.get_secret_value())
            tx_hash = Web3.to_hex(signed.hash)
            self.store.put(cid, nonce, tx_hash.lower(), Web3.to_hex(signed.raw_transaction), request.side.value,
                           str(request.amount), deadline)  # fmt: skip
            try:
                await self._rpc(self.w3.eth.send_raw_transaction(signed.raw_transaction), write=True)
            except VenueUnavailable:
                self.store.drop(cid)  # never reached the node
                raise
            except VenueTimeout:  # it may be in the mempool: its nonce is taken (fetch_order rebroadcasts it)
                self._next_nonce = nonce + 1
                raise
            except Web3RPCError as exc:
                text = str(exc).lower()
                if "already known" not in text:
                    self.store.drop(cid)
                    if "nonce" in text:  # someone else used our nonce: read it again next time
                        self._next_nonce = None
                        raise VenueUnavailable(f"{self.name}: nonce {nonce} is used; retry") from None
                    raise OrderRejected(
                        f"{self.name}: the node refused the swap: {redact.redact(str(exc))[:200]}"
                    ) from None
            self._next_nonce = nonce + 1
        log.info(
            "%s: swap %s sent as %s (nonce %d, quote %d, bound %d)",
            self.name,
            cid,
            tx_hash,
            nonce,
            quoted,
            bound,
        )
        deadline_wait = time.time() + self.ref.receipt_wait_s
        while True:
            report = await self.fetch_order(request.symbol, cid)
            if report.status is not VenueStatus.OPEN or time.time() >= deadline_wait:
                return report
            await asyncio.sleep(0.2)

    async def _receipt(self, tx_hash: str):
        try:
            return await self._rpc(self.w3.eth.get_transaction_receipt(tx_hash))
        except TransactionNotFound:
            return None

    async def fetch_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        swap = self.store.get(client_order_id)
        if swap is None:
            raise OrderNotFound(f"{self.name}: no swap for {client_order_id}")
        side, amount = Side(swap["side"]), Decimal(swap["amount"])

        def report(status: VenueStatus, filled: Decimal = Decimal(0), price: Decimal | None = None,
                   fee: Decimal = Decimal(0), reason: str | None = None) -> VenueOrder:  # fmt: skip
            return VenueOrder(client_order_id, swap["tx_hash"], self.symbol, side, amount, filled, status, price, fee,
                              reason, time.time())  # fmt: skip

        receipt = await self._receipt(swap["tx_hash"])
        if receipt is not None:
            head = await self._rpc(self.w3.eth.block_number)
            if head - receipt["blockNumber"] + 1 < self.ref.confirmations:
                return report(VenueStatus.OPEN)
            gas = await self._gas_paid(receipt)
            if receipt["status"] != 1:
                return report(
                    VenueStatus.REJECTED, fee=gas, reason=f"the swap reverted on chain (gas paid {gas:.6f})"
                )
            fills = [f for f in self._fills_of(receipt, client_order_id, gas)]
            if not fills:
                return report(VenueStatus.REJECTED, fee=gas, reason="mined without a swap of this pool")
            filled = sum((f.amount for f in fills), Decimal(0))
            cost = sum((f.amount * f.price for f in fills), Decimal(0))
            return report(VenueStatus.CLOSED, filled, (cost / filled).quantize(PRICE_QUANTUM), gas)
        known = await self._rpc(self.w3.eth.get_transaction_count(self.account, "latest"))
        if known > swap["nonce"]:
            if await self._receipt(swap["tx_hash"]) is not None:  # mined since we asked: read it again
                return await self.fetch_order(symbol, client_order_id)
            return report(VenueStatus.CANCELED, reason="another transaction used its nonce: never executed")
        block = await self._rpc(self.w3.eth.get_block("latest"))
        if block["timestamp"] > swap["deadline"]:
            return report(
                VenueStatus.CANCELED, reason="not mined before its deadline: it can no longer execute"
            )
        try:
            await self._rpc(self.w3.eth.get_transaction(swap["tx_hash"]))
        except TransactionNotFound:  # the node dropped it: broadcast it again (same nonce, same hash)
            try:
                await self._rpc(self.w3.eth.send_raw_transaction(swap["raw"]), write=True)
            except (VenueError, Web3RPCError) as exc:
                log.warning(
                    "%s: rebroadcast of %s failed: %s",
                    self.name,
                    client_order_id,
                    redact.redact(str(exc))[:200],
                )
        return report(VenueStatus.OPEN)

    async def _gas_paid(self, receipt) -> Decimal:
        """Gas paid by a receipt, in the quote currency."""
        wei = receipt["gasUsed"] * receipt.get("effectiveGasPrice", 0)
        base, quote = await self._reserves()
        if self.ref.native_price is not None:
            native = Decimal(str(self.ref.native_price))
        elif self.base.address.lower() == self.weth:
            native = _units(quote, self.quote_decimals) / _units(base, self.base_decimals)
        else:
            native = Decimal(1)
        return (_units(wei, 18) * native).quantize(Decimal("1e-8"))

    def _fills_of(self, receipt, client_order_id: str, gas: Decimal) -> list[VenueFill]:
        fills = []
        for entry in receipt["logs"]:
            if (
                entry["address"].lower() != self.pair.address.lower()
                or Web3.to_hex(entry["topics"][0]) != self.swap_topic
            ):
                continue
            to = "0x" + Web3.to_hex(entry["topics"][2])[-40:]
            if to.lower() != self.account.lower():
                continue
            data = bytes(entry["data"])
            a0_in, a1_in, a0_out, a1_out = (
                int.from_bytes(data[i : i + 32], "big") for i in range(0, 128, 32)
            )
            base_in, quote_in = (a0_in, a1_in) if self.base_is_token0 else (a1_in, a0_in)
            base_out, quote_out = (a0_out, a1_out) if self.base_is_token0 else (a1_out, a0_out)
            side = Side.BUY if base_out > 0 else Side.SELL
            base_amount = _units(base_out or base_in, self.base_decimals)
            quote_amount = _units(quote_in or quote_out, self.quote_decimals)
            fills.append(VenueFill(
                venue=self.name, fill_id=f"{Web3.to_hex(receipt['transactionHash'])}:{entry['logIndex']}",
                client_order_id=client_order_id, symbol=self.symbol, side=side,
                price=(quote_amount / base_amount).quantize(PRICE_QUANTUM), amount=base_amount,
                fee=gas if not fills else Decimal(0), timestamp=time.time(),
            ))  # fmt: skip
        return fills

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        """A swap cannot be called back once broadcast; it executes or dies at its deadline. Returns its state."""
        return await self.fetch_order(symbol, client_order_id)

    async def open_orders(self) -> list[VenueOrder]:
        out = []
        for cid in self.store.pending()[-100:]:
            report = await self.fetch_order(self.symbol, cid)
            if report.status is VenueStatus.OPEN:
                out.append(report)
        return out

    async def fetch_updates(self, cursor: str | None) -> VenueUpdates:
        """Fills from the pool's Swap logs paid to our account, after block ``cursor``."""
        head = await self._rpc(self.w3.eth.block_number)
        last = head - self.ref.confirmations + 1
        first = int(cursor) + 1 if cursor else self.start_block
        if last < first:
            return VenueUpdates([], [], cursor)
        last = min(last, first + 2000)  # a page; the manager asks again while there are new fills
        topic_to = "0x" + "0" * 24 + self.account.lower().removeprefix("0x")
        logs = await self._rpc(self.w3.eth.get_logs({"address": self.pair.address, "fromBlock": first,
                                                     "toBlock": last, "topics": [self.swap_topic, None, topic_to]}))  # fmt: skip
        fills: list[VenueFill] = []
        for tx_hash in dict.fromkeys(Web3.to_hex(e["transactionHash"]) for e in logs):
            receipt = await self._rpc(self.w3.eth.get_transaction_receipt(tx_hash))
            cid = self.store.by_hash(tx_hash) or await self._cid_from_calldata(tx_hash)
            fills.extend(self._fills_of(receipt, cid, await self._gas_paid(receipt)))
        return VenueUpdates([], fills, str(last))

    async def _cid_from_calldata(self, tx_hash: str) -> str:
        tx = await self._rpc(self.w3.eth.get_transaction(tx_hash))
        tail = bytes(tx["input"])[-26:]
        try:
            text = tail.decode("ascii")
        except UnicodeDecodeError:
            return f"chain:{tx_hash}"
        return text if text.isalnum() else f"chain:{tx_hash}"

    async def close(self) -> None:
        await self.w3.provider.disconnect()
        self.store.close()
