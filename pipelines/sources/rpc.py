"""A careful JSON-RPC client (web3.py 8) shared by the chain and DEX sources.

* every request has a timeout and bounded retries (429/5xx/timeouts/dropped connections), and the
  RPC URL - which often embeds an API key - never appears in a message;
* blocks are fetched in JSON-RPC batches;
* a time window maps to a block range by binary search on block timestamps, and only blocks
  ``confirmations`` deep count: a window that is not confirmed yet raises WindowNotConfirmed;
* ``eth_getLogs`` runs over block ranges that halve when the node answers "too many results",
  "block range too large" or times out, and grow back after a run of successes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import requests
from web3 import IPCProvider, Web3
from web3.exceptions import ProviderConnectionError, TimeExhausted, TooManyRequests, Web3RPCError

from connect.evm import http_provider
from connect.http import retry_after_seconds
from kimera.config import RetryConfig
from pipelines.sources.retry import SourceUnavailable, call_with_retries
from pipelines.sources.rows import EPOCH

log = logging.getLogger(__name__)
T = TypeVar("T")
_RATE = ("rate limit", "too many requests", "request count", "per second", "capacity", "throttl")
_RANGE = ("more than", "too many", "block range", "range is too", "response size", "limit exceeded",
          "exceed", "query timeout", "timed out", "too large", "max results")  # fmt: skip
_LAGGING = ("header not found", "unknown block", "missing trie node")


class WindowNotConfirmed(RuntimeError):
    """The window ends after the newest block that is ``confirmations`` deep; retry later."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ReorgDuringFetch(RuntimeError):
    """The chain reorganised while a range was being read (hashes did not line up)."""


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    ts: int  # seconds


def rpc_message(exc: BaseException) -> str:
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        error = exc.rpc_response.get("error") or {}
        if isinstance(error, dict):
            return f"{error.get('code', '')} {error.get('message', '')}".lower()
    return str(exc).lower()


def is_range_error(exc: BaseException) -> bool:
    """The node refuses the size of an eth_getLogs query (not a rate limit): ask for less."""
    if not isinstance(exc, Web3RPCError):
        return False
    text = rpc_message(exc)
    return not any(p in text for p in _RATE) and any(p in text for p in _RANGE)


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, requests.Timeout | TimeExhausted)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying as is: connection trouble, timeouts, 429/5xx, rate limits, a lagging node."""
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return status == 429 or status >= 500
    if isinstance(exc, requests.ConnectionError | requests.Timeout | TimeExhausted | ProviderConnectionError):
        return True
    if isinstance(exc, TooManyRequests):
        return True
    if isinstance(exc, Web3RPCError):
        text = rpc_message(exc)
        return any(p in text for p in _RATE + _LAGGING)
    return isinstance(exc, ConnectionError | TimeoutError)


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return retry_after_seconds(exc.response.headers)
    return None


def epoch_seconds(ts: datetime) -> float:
    return (ts - EPOCH).total_seconds()


class RpcClient:
    """One JSON-RPC endpoint: ``http(s)://`` URL or IPC socket path."""

    def __init__(
        self,
        url: str,
        retry: RetryConfig,
        *,
        batch_size: int = 50,
        log_chunk_blocks: int = 2000,
        label: str = "rpc",
    ) -> None:
        self.retry = retry
        self.batch_size = batch_size
        self.log_chunk_blocks = log_chunk_blocks
        self.label = label
        self._secret = url
        if url.startswith(("http://", "https://")):
            provider = http_provider(url, retry.timeout_s)
        else:
            provider = IPCProvider(url, timeout=retry.timeout_s)
        self.w3 = Web3(provider)
        self._headers: OrderedDict[int, Header] = OrderedDict()
        self._first_at: dict[float, int] = {}
        self._chunk = log_chunk_blocks
        self._successes = 0

    # --- calls ------------------------------------------------------------------------------------
    def call(
        self, what: str, fn: Callable[[], T], retryable: Callable[[BaseException], bool] = is_transient
    ) -> T:
        return call_with_retries(
            fn,
            config=self.retry,
            what=f"{self.label} {what}",
            retryable=retryable,
            retry_after=_retry_after,
            secrets=[self._secret],
        )

    def head(self) -> int:
        return int(self.call("eth_blockNumber", lambda: self.w3.eth.block_number))

    def chain_id(self) -> int:
        return int(self.call("eth_chainId", lambda: self.w3.eth.chain_id))

    # --- blocks -----------------------------------------------------------------------------------
    def _fetch_blocks(self, numbers: list[int], full: bool) -> list[dict]:
        blocks: list[dict] = []
        size = self.batch_size or 1
        for i in range(0, len(numbers), size):
            chunk = numbers[i : i + size]
            if self.batch_size > 1 and len(chunk) > 1:

                def batch(chunk: list[int] = chunk) -> list[Any]:
                    with self.w3.batch_requests() as requests_:
                        for n in chunk:
                            requests_.add(self.w3.eth.get_block(n, full_transactions=full))
                        return requests_.execute()

                blocks.extend(self.call(f"eth_getBlockByNumber x{len(chunk)} from {chunk[0]}", batch))
            else:
                for n in chunk:
                    blocks.append(
                        self.call(f"eth_getBlockByNumber {n}", lambda n=n: self.w3.eth.get_block(n, full))
                    )
        for block in blocks:
            self._remember(block)
        return blocks

    def _remember(self, block: dict) -> Header:
        header = Header(
            int(block["number"]),
            Web3.to_hex(block["hash"]).lower(),
            Web3.to_hex(block["parentHash"]).lower(),
            int(block["timestamp"]),
        )
        self._headers[header.number] = header
        self._headers.move_to_end(header.number)
        while len(self._headers) > 20_000:
            self._headers.popitem(last=False)
        return header

    def full_blocks(self, numbers: list[int]) -> list[dict]:
        """Blocks with their transactions, in the order asked."""
        return self._fetch_blocks(numbers, full=True)

    def headers(self, numbers: Iterable[int], fresh: bool = False) -> dict[int, Header]:
        """Headers by number (cached unless ``fresh``: a reorg check must ask the node again)."""
        numbers = sorted(set(numbers))
        wanted = numbers if fresh else [n for n in numbers if n not in self._headers]
        fetched = {h.number: h for h in map(self._remember, self._fetch_blocks(wanted, full=False))}
        return {n: fetched.get(n) or self._headers[n] for n in numbers}

    def timestamp(self, number: int) -> int:
        return self.headers([number])[number].ts

    def first_block_at_or_after(self, when_s: float, last: int) -> int:
        """Smallest block number in ``[0, last]`` whose timestamp is >= ``when_s`` (``last + 1`` if none)."""
        key = when_s
        if key in self._first_at and self._first_at[key] <= last:
            return self._first_at[key]
        lo, hi = 0, last + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.timestamp(mid) >= when_s:
                hi = mid
            else:
                lo = mid + 1
        if lo <= last:
            self._first_at[key] = lo
        return lo

    def window_blocks(self, start: datetime, end: datetime, confirmations: int) -> range:
        """Block numbers whose timestamps lie in ``[start, end)``, all ``confirmations`` deep."""
        head = self.head()
        safe = head - confirmations
        end_s, start_s = epoch_seconds(end), epoch_seconds(start)
        safe_ts = self.timestamp(safe) if safe >= 0 else 0
        # block times rise strictly, in whole seconds: no later block can fall before safe_ts + 1
        if safe < 0 or safe_ts + 1 < end_s:
            wait = max(1.0, end_s - safe_ts) + 12.0 * confirmations
            raise WindowNotConfirmed(
                f"{self.label}: window [{start}, {end}) is not {confirmations} blocks deep yet "
                f"(head {head}, newest confirmed block {max(safe, 0)} at "
                f"{EPOCH + timedelta(seconds=safe_ts):%Y-%m-%d %H:%M:%S}); retry in about {wait:.0f} s",
                wait,
            )
        first = self.first_block_at_or_after(start_s, safe)
        stop = self.first_block_at_or_after(end_s, safe)
        return range(first, stop)

    # --- logs -------------------------------------------------------------------------------------
    def get_logs(self, query: dict[str, Any], first: int, last: int) -> list[dict]:
        """``eth_getLogs`` for ``[first, last]`` in ranges the node accepts, oldest first."""
        found: list[dict] = []
        cursor, timeouts = first, 0
        while cursor <= last:
            hi = min(last, cursor + self._chunk - 1)
            try:
                part = self.call(
                    f"eth_getLogs {cursor}..{hi}",
                    lambda lo=cursor, hi=hi: self.w3.eth.get_logs({**query, "fromBlock": lo, "toBlock": hi}),
                    retryable=lambda exc: is_transient(exc) and not is_timeout(exc),
                )
            except (Web3RPCError, requests.Timeout, TimeExhausted) as exc:
                if not (is_range_error(exc) or is_timeout(exc)):
                    raise
                timeouts += is_timeout(exc)
                if hi == cursor or timeouts >= self.retry.attempts:
                    raise SourceUnavailable(
                        f"{self.label} eth_getLogs {cursor}..{hi}: refused even for a small range "
                        f"({type(exc).__name__}: {rpc_message(exc)[:200]})"
                    ) from exc
                self._chunk = max(1, (hi - cursor + 1) // 2)
                self._successes = 0
                log.info("%s eth_getLogs: %s; asking for %d blocks at a time", self.label,
                         rpc_message(exc)[:120], self._chunk)  # fmt: skip
                continue
            found.extend(part)
            cursor, timeouts = hi + 1, 0
            self._successes += 1
            if self._successes >= 8 and self._chunk < self.log_chunk_blocks:
                self._chunk, self._successes = min(self.log_chunk_blocks, self._chunk * 2), 0
        return found

    def call_function(self, what: str, fn: Any, block: int | str = "latest") -> Any:
        """A contract view call (``contract.functions.x()``) with retries."""
        return self.call(what, lambda: fn.call(block_identifier=block))
