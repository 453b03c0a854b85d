"""Chain data from any Ethereum JSON-RPC endpoint (``chain.source: rpc``).

* ``raw.chain_blocks``: every confirmed block of the window with transaction count, active
  addresses (distinct senders and recipients), gas used/limit and base fee;
* ``raw.token_transfers``: ERC-20 ``Transfer`` logs of the configured tokens, amounts divided by
  the decimals the token contract reports (a config that disagrees fails at once).

Exchange-wallet labels and whale thresholds come from the config (``raw.wallet_labels``,
``raw.tokens``) and are applied downstream. Rows carry block hashes; together with
``raw.block_coverage`` they let :mod:`pipelines.sources.reorg` find and heal a reorg.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

import pyarrow as pa
from eth_abi.exceptions import DecodingError
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from connect.evm import ERC20_ABI, TRANSFER, LogRef, decode_transfer, scaled
from kimera.config import ChainConfig, ConfigError, KimeraConfig, Token
from kimera.schema import BLOCK_COVERAGE, CHAIN_BLOCKS, TOKEN_TRANSFERS
from kimera.settings import Settings, get_settings
from pipelines.sources.rows import EPOCH, table_from_records
from pipelines.sources.rpc import Header, ReorgDuringFetch, RpcClient

log = logging.getLogger(__name__)


def rpc_url(config: KimeraConfig, settings: Settings) -> str:
    """The chain's RPC URL: ``chain.rpc_url`` or the secret named by ``chain.rpc_url_secret``."""
    if config.chain.rpc_url:
        return config.chain.rpc_url
    name = config.chain.rpc_url_secret or ""
    secret = settings.secret(name)
    if secret is None:
        raise ConfigError(
            f"chain.rpc_url_secret = {name!r}: no such secret; set KIMERA_SECRET_{name.upper()} "
            "or put a file of that name in KIMERA_SECRETS_DIR"
        )
    return secret.get_secret_value()


def make_client(
    config: KimeraConfig, settings: Settings | None = None, label: str | None = None
) -> RpcClient:
    settings = settings or get_settings()
    chain = config.chain
    return RpcClient(
        rpc_url(config, settings),
        chain.retry,
        batch_size=chain.batch_size,
        log_chunk_blocks=chain.log_chunk_blocks,
        label=label or f"{chain.name} rpc",
    )


def check_chain_id(client: RpcClient, chain: ChainConfig) -> None:
    """Refuse an RPC URL that serves another chain than ``chain.chain_id`` (asked once per client)."""
    if chain.chain_id is None:
        return
    actual = int(client.call("eth_chainId", lambda: client.w3.eth.chain_id))
    if actual != chain.chain_id:
        raise ConfigError(
            f"chain {chain.name!r}: its RPC reports chain id {actual}, but chain_id = {chain.chain_id} is "
            "configured; point rpc_url at that chain's node, or fix chain_id"
        )


def ts_of(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def coverage_rows(chain: str, dataset: str, headers: list[Header]) -> pa.Table:
    """``raw.block_coverage`` rows: the blocks a dataset was read from, with their hashes."""
    return table_from_records(
        BLOCK_COVERAGE,
        [
            {
                "chain": chain,
                "dataset": dataset,
                "block_number": h.number,
                "block_hash": h.hash,
                "ts": ts_of(h.ts),
            }
            for h in headers
        ],
    )


class BlockWindows(ABC):
    """What the chain and DEX sources over one RPC client share: the confirmed blocks of a time
    window, the rows of a table over them, their coverage and canonical hashes (the
    :class:`~pipelines.sources.base.ReorgAwareSource` side). A subclass sets ``config``, ``client``
    and ``dataset`` and reads rows with ``rows_between``."""

    config: KimeraConfig
    client: RpcClient
    dataset: str
    _chain_checked: bool = False  # eth_chainId agreed with chain.chain_id

    def chain(self) -> str:
        return self.config.chain.name

    @abstractmethod
    def rows_between(self, table: str, first: int, last: int) -> pa.Table:
        """Rows of ``table`` for blocks ``first..last`` (inclusive) as the chain has them now."""

    def window_rows(self, table: str, start: datetime, end: datetime) -> pa.Table:
        """``table``'s rows from the confirmed blocks of ``[start, end)``."""
        window = self.window_blocks(start, end)
        return self.rows_between(table, window.start, window.stop - 1)

    def window_blocks(self, start: datetime, end: datetime) -> range:
        if not self._chain_checked:
            check_chain_id(self.client, self.config.chain)
            self._chain_checked = True
        return self.client.window_blocks(start, end, self.config.chain.confirmations)

    def coverage(self, start: datetime, end: datetime) -> pa.Table:
        window = self.window_blocks(start, end)
        return self.coverage_between(window.start, window.stop - 1)

    def coverage_between(self, first: int, last: int) -> pa.Table:
        headers = self.client.headers(range(first, last + 1))
        return coverage_rows(self.chain(), self.dataset, [headers[n] for n in range(first, last + 1)])

    def canonical_hashes(self, numbers: list[int]) -> dict[int, str]:
        head = self.client.head()
        asked = [n for n in numbers if n <= head]
        return {n: h.hash for n, h in self.client.headers(asked, fresh=True).items()}


class RpcChainSource(BlockWindows):
    """:class:`~pipelines.sources.base.ChainSource` over web3 (any JSON-RPC URL)."""

    dataset = "chain"
    tables = ("chain_blocks", "token_transfers")

    def __init__(
        self, config: KimeraConfig, settings: Settings | None = None, client: RpcClient | None = None
    ):
        self.config = config
        self.reorg_lookback = config.chain.reorg_lookback_blocks
        self.client = client or make_client(config, settings)
        self.tokens: dict[str, Token] = {t.address.lower(): t for t in config.chain.tokens}
        self._decimals_checked = False

    # --- ChainSource ------------------------------------------------------------------------------
    def blocks(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("chain_blocks", start, end)

    def transfers(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("token_transfers", start, end)

    # --- reorg-aware (pipelines.sources.reorg; windows, coverage and hashes from BlockWindows) ------
    def heal_scope(self, table: str) -> dict[str, list[str]]:
        if table == "token_transfers":
            return {"token_address": sorted(self.tokens)}
        return {}

    def rows_between(self, table: str, first: int, last: int) -> pa.Table:
        """Rows of ``table`` for blocks ``first..last`` (inclusive) as the chain has them now."""
        blocks = range(first, last + 1)
        if table == "chain_blocks":
            return self._block_rows(blocks)
        if table == "token_transfers":
            return self._transfer_rows(blocks)
        raise ValueError(f"{table} is not a chain table; expected one of {self.tables}")

    # --- rows -------------------------------------------------------------------------------------
    def _block_rows(self, blocks: range) -> pa.Table:
        if not blocks:
            return CHAIN_BLOCKS.empty()
        full = self.client.full_blocks(list(blocks))
        by_number = {int(b["number"]): b for b in full}
        for n in blocks[1:]:
            if Web3.to_hex(by_number[n]["parentHash"]) != Web3.to_hex(by_number[n - 1]["hash"]):
                raise ReorgDuringFetch(
                    f"{self.client.label}: block {n} does not follow block {n - 1}; retry the run"
                )
        rows = []
        for block in full:
            addresses = set()
            for tx in block["transactions"]:
                addresses.add(str(tx["from"]).lower())
                if tx.get("to"):
                    addresses.add(str(tx["to"]).lower())
            base_fee = block.get("baseFeePerGas")
            rows.append(
                {
                    "chain": self.chain(),
                    "block_number": int(block["number"]),
                    "block_hash": Web3.to_hex(block["hash"]).lower(),
                    "parent_hash": Web3.to_hex(block["parentHash"]).lower(),
                    "ts": ts_of(int(block["timestamp"])),
                    "tx_count": len(block["transactions"]),
                    "active_addresses": len(addresses),
                    "gas_used": int(block["gasUsed"]),
                    "gas_limit": int(block["gasLimit"]),
                    "base_fee_gwei": None if base_fee is None else int(base_fee) / 1e9,
                }
            )
        return table_from_records(CHAIN_BLOCKS, rows)

    def _check_decimals(self) -> None:
        if self._decimals_checked:
            return
        for address, token in self.tokens.items():
            contract = self.client.w3.eth.contract(address=Web3.to_checksum_address(address), abi=ERC20_ABI)
            try:
                onchain = self.client.call_function(
                    f"{token.symbol}.decimals()", contract.functions.decimals()
                )
            except (ContractLogicError, BadFunctionCallOutput, DecodingError) as exc:
                raise ConfigError(
                    f"chain.tokens: {token.symbol} at {token.address} does not answer decimals() "
                    f"({type(exc).__name__}); is it an ERC-20 on {self.chain()}?"
                ) from None
            if int(onchain) != token.decimals:
                raise ConfigError(
                    f"chain.tokens: {token.symbol} has decimals = {token.decimals} in the config but the "
                    f"contract at {token.address} says {onchain}; fix the config"
                )
        self._decimals_checked = True

    def _transfer_rows(self, blocks: range) -> pa.Table:
        if not blocks or not self.tokens:
            return TOKEN_TRANSFERS.empty()
        self._check_decimals()
        query = {"address": [Web3.to_checksum_address(a) for a in self.tokens], "topics": [TRANSFER]}
        for _ in range(3):
            logs = self.client.get_logs(query, blocks.start, blocks.stop - 1)
            headers = self.client.headers({int(entry["blockNumber"]) for entry in logs})
            refs = [LogRef.of(entry) for entry in logs]
            if all(headers[r.block_number].hash == r.block_hash for r in refs):
                break
            self.client.headers({r.block_number for r in refs}, fresh=True)
            log.warning("%s: logs and blocks disagree on hashes (a reorg); reading again", self.client.label)
        else:
            raise ReorgDuringFetch(
                f"{self.client.label}: transfers of blocks {blocks.start}..{blocks.stop - 1} kept reorganising"
            )
        rows = []
        for entry, ref in zip(logs, refs, strict=True):
            decoded = decode_transfer(entry)
            token = self.tokens.get(ref.address)
            if decoded is None or token is None:
                continue
            sender, recipient, value = decoded
            rows.append(
                {
                    "chain": self.chain(),
                    "block_number": ref.block_number,
                    "block_hash": ref.block_hash,
                    "log_index": ref.log_index,
                    "ts": ts_of(headers[ref.block_number].ts),
                    "tx_hash": ref.tx_hash,
                    "token": token.symbol,
                    "token_address": ref.address,
                    "from_address": sender,
                    "to_address": recipient,
                    "amount": scaled(value, token.decimals),
                    "amount_raw": str(value),
                }
            )
        return table_from_records(TOKEN_TRANSFERS, rows)
