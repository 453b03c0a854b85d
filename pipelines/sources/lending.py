"""Lending markets from chain logs (``lending.source: rpc``): Aave V3 pools and Compound V3 (Comet)
markets (``protocol: compound_v3``, decoded by :mod:`pipelines.sources.compound_v3`; events only).

* ``raw.lending_events``: ``Supply``, ``Withdraw``, ``Borrow``, ``Repay`` and ``LiquidationCall`` of
  each configured pool, amounts divided by the reserve's decimals (read from the token once);
* ``raw.lending_reserves``: each ``ReserveDataUpdated`` (rates and indexes in ray, 1e27, become
  fractions), with the reserve's aToken and debt-token supply at the end of that block, so
  utilisation is ``total_borrowed / total_supplied``.

Same reorg-aware block windows as the chain and DEX sources (:class:`BlockWindows`).
"""

from __future__ import annotations

import logging
from datetime import datetime

import pyarrow as pa
from eth_abi import decode
from web3 import Web3

from connect.evm import ERC20_ABI, LogRef, _data, first_topic, scaled, topic, topic_address
from kimera.config import KimeraConfig
from kimera.schema import LENDING_EVENTS, LENDING_RESERVES
from kimera.settings import Settings, get_settings
from pipelines.sources.chain_rpc import BlockWindows, make_client, ts_of
from pipelines.sources.compound_v3 import comet_abi, comet_state, comet_topics, decode_comet_logs
from pipelines.sources.rows import table_from_records
from pipelines.sources.rpc import RpcClient

log = logging.getLogger(__name__)

SUPPLY = topic("Supply(address,address,address,uint256,uint16)")
WITHDRAW = topic("Withdraw(address,address,address,uint256)")
BORROW = topic("Borrow(address,address,address,uint256,uint8,uint256,uint16)")
REPAY = topic("Repay(address,address,address,uint256,bool)")
LIQUIDATION = topic("LiquidationCall(address,address,address,uint256,uint256,address,bool)")
RESERVE_UPDATED = topic("ReserveDataUpdated(address,uint256,uint256,uint256,uint256,uint256)")
RAY = 10**27

POOL_ABI = [
    {"name": "getReserveData", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "asset", "type": "address"}],
     "outputs": [{"name": "", "type": "tuple", "components": [
         {"name": "configuration", "type": "tuple", "components": [{"name": "data", "type": "uint256"}]},
         {"name": "liquidityIndex", "type": "uint128"}, {"name": "currentLiquidityRate", "type": "uint128"},
         {"name": "variableBorrowIndex", "type": "uint128"}, {"name": "currentVariableBorrowRate", "type": "uint128"},
         {"name": "currentStableBorrowRate", "type": "uint128"}, {"name": "lastUpdateTimestamp", "type": "uint40"},
         {"name": "id", "type": "uint16"}, {"name": "aTokenAddress", "type": "address"},
         {"name": "stableDebtTokenAddress", "type": "address"}, {"name": "variableDebtTokenAddress", "type": "address"},
         {"name": "interestRateStrategyAddress", "type": "address"}, {"name": "accruedToTreasury", "type": "uint128"},
         {"name": "unbacked", "type": "uint128"}, {"name": "isolationModeTotalDebt", "type": "uint128"}]}]},
]  # fmt: skip
TOTAL_SUPPLY_ABI = [{"name": "totalSupply", "type": "function", "stateMutability": "view", "inputs": [],
                     "outputs": [{"name": "", "type": "uint256"}]}]  # fmt: skip


class RpcLendingSource(BlockWindows):
    """Events and reserve states of ``lending.markets`` (Aave V3) over web3."""

    dataset = "lending"
    tables = ("lending_events", "lending_reserves")

    def __init__(
        self, config: KimeraConfig, settings: Settings | None = None, client: RpcClient | None = None
    ):
        self.config = config
        self.reorg_lookback = config.chain.reorg_lookback_blocks
        self.settings = settings or get_settings()
        self.client = client or make_client(config, self.settings, label=f"{config.chain.name} rpc (lending)")
        self.markets_by_address = {m.address.lower(): m for m in config.lending.markets}
        self._decimals: dict[str, int] = {}
        self._tokens: dict[str, tuple[str, str, str]] = {}  # reserve -> (aToken, stable debt, variable debt)
        self._base: dict[str, str] = {}  # Comet market -> its base token

    def markets(self) -> list[str]:
        return sorted(self.markets_by_address)

    def events(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("lending_events", start, end)

    def reserves(self, start: datetime, end: datetime) -> pa.Table:
        return self.window_rows("lending_reserves", start, end)

    def heal_scope(self, table: str) -> dict[str, list[str]]:
        return {"market": sorted(self.markets_by_address)}

    def rows_between(self, table: str, first: int, last: int) -> pa.Table:
        if table not in self.tables:
            raise ValueError(f"{table} is not a lending table; expected one of {self.tables}")
        return self._decode(first, last)[table]

    # --- reads ------------------------------------------------------------------------------------
    def decimals(self, token: str) -> int:
        if token not in self._decimals:
            erc20 = self.client.w3.eth.contract(address=Web3.to_checksum_address(token), abi=ERC20_ABI)
            self._decimals[token] = int(
                self.client.call_function(f"token {token} decimals()", erc20.functions.decimals())
            )
        return self._decimals[token]

    def _reserve_tokens(self, market: str, reserve: str) -> tuple[str, str, str]:
        if reserve not in self._tokens:
            pool = self.client.w3.eth.contract(address=Web3.to_checksum_address(market), abi=POOL_ABI)
            data = self.client.call_function(f"pool {market} getReserveData({reserve})",
                                             pool.functions.getReserveData(Web3.to_checksum_address(reserve)))  # fmt: skip
            self._tokens[reserve] = (data[8], data[9], data[10])
        return self._tokens[reserve]

    def base_token(self, market: str) -> str:
        """A Comet market's base asset (``baseToken()``, read once)."""
        if market not in self._base:
            comet = self.client.w3.eth.contract(address=Web3.to_checksum_address(market), abi=comet_abi())
            self._base[market] = str(
                self.client.call_function(f"comet {market} baseToken()", comet.functions.baseToken())
            ).lower()
        return self._base[market]

    def _comet_reserve(self, market: str, base: str, block: int, row: dict) -> dict:
        comet = self.client.w3.eth.contract(address=Web3.to_checksum_address(market), abi=comet_abi())

        def read(label: str, fn):
            return self.client.call(
                f"comet {market} {label}@{block}", lambda: fn.call(block_identifier=block)
            )

        state = comet_state(read, comet, block)
        d = self.decimals(base)
        keep = ("chain", "protocol", "market", "block_number", "block_hash", "log_index", "ts")
        return {**{k: row[k] for k in keep}, "reserve": base, **state,
                "total_supplied": scaled(state["total_supplied"], d), "total_borrowed": scaled(state["total_borrowed"], d)}  # fmt: skip

    def _total(self, token: str, block: int) -> int:
        c = self.client.w3.eth.contract(address=Web3.to_checksum_address(token), abi=TOTAL_SUPPLY_ABI)
        return int(self.client.call(f"token {token} totalSupply()@{block}",
                                    lambda: c.functions.totalSupply().call(block_identifier=block)))  # fmt: skip

    def _decode(self, first: int, last: int) -> dict[str, pa.Table]:
        events: list[dict] = []
        reserves: list[dict] = []
        if first > last or not self.markets_by_address:
            return {"lending_events": table_from_records(LENDING_EVENTS, events),
                    "lending_reserves": table_from_records(LENDING_RESERVES, reserves)}  # fmt: skip
        query = {"address": [Web3.to_checksum_address(a) for a in self.markets_by_address],
                 "topics": [[SUPPLY, WITHDRAW, BORROW, REPAY, LIQUIDATION, RESERVE_UPDATED, *comet_topics()]]}  # fmt: skip
        logs = sorted(
            self.client.get_logs(query, first, last),
            key=lambda e: (int(e["blockNumber"]), int(e["logIndex"])),
        )
        headers = self.client.headers({int(e["blockNumber"]) for e in logs})

        def row_of(entry: dict) -> dict:
            ref = LogRef.of(entry)
            return {"chain": self.chain(), "protocol": self.markets_by_address[ref.address].protocol,
                    "market": ref.address, "block_number": ref.block_number, "block_hash": ref.block_hash,
                    "log_index": ref.log_index, "ts": ts_of(headers[ref.block_number].ts), "tx_hash": ref.tx_hash}  # fmt: skip

        comet: dict[str, list[dict]] = {}
        for entry in logs:
            ref = LogRef.of(entry)
            market = self.markets_by_address.get(ref.address)
            if market is None:
                continue
            if market.protocol == "compound_v3":
                comet.setdefault(ref.address, []).append(entry)
                continue
            t = entry["topics"]
            common = {"chain": self.chain(), "protocol": market.protocol, "market": ref.address,
                      "block_number": ref.block_number, "block_hash": ref.block_hash, "log_index": ref.log_index,
                      "ts": ts_of(headers[ref.block_number].ts)}  # fmt: skip
            kind = first_topic(entry)
            if kind == RESERVE_UPDATED.lower():
                reserve = topic_address(t[1])
                supply, stable, variable, l_index, v_index = decode(["uint256"] * 5, _data(entry))
                a_token, stable_debt, variable_debt = self._reserve_tokens(ref.address, reserve)
                d = self.decimals(reserve)
                borrowed = self._total(stable_debt, ref.block_number) + self._total(
                    variable_debt, ref.block_number
                )
                reserves.append({**common, "reserve": reserve, "supply_rate": supply / RAY,
                                 "variable_borrow_rate": variable / RAY, "stable_borrow_rate": stable / RAY,
                                 "liquidity_index": l_index / RAY, "variable_borrow_index": v_index / RAY,
                                 "total_supplied": scaled(self._total(a_token, ref.block_number), d),
                                 "total_borrowed": scaled(borrowed, d)})  # fmt: skip
                continue
            row = {**common, "tx_hash": ref.tx_hash, "collateral_reserve": None, "collateral_amount": None,
                   "borrow_rate": None}  # fmt: skip
            data = _data(entry)
            if kind == SUPPLY.lower():
                caller, amount = decode(["address", "uint256"], data)
                row |= {"event": "supply", "reserve": topic_address(t[1]), "user": topic_address(t[2]),
                        "caller": caller.lower(), "amount": amount}  # fmt: skip
            elif kind == WITHDRAW.lower():
                (amount,) = decode(["uint256"], data)
                row |= {"event": "withdraw", "reserve": topic_address(t[1]), "user": topic_address(t[2]),
                        "caller": topic_address(t[2]), "amount": amount}  # fmt: skip
            elif kind == BORROW.lower():
                caller, amount, _mode, rate = decode(["address", "uint256", "uint8", "uint256"], data)
                row |= {"event": "borrow", "reserve": topic_address(t[1]), "user": topic_address(t[2]),
                        "caller": caller.lower(), "amount": amount, "borrow_rate": rate / RAY}  # fmt: skip
            elif kind == REPAY.lower():
                amount, _use_atokens = decode(["uint256", "bool"], data)
                row |= {"event": "repay", "reserve": topic_address(t[1]), "user": topic_address(t[2]),
                        "caller": topic_address(t[3]), "amount": amount}  # fmt: skip
            elif kind == LIQUIDATION.lower():
                debt, seized, liquidator, _receive = decode(["uint256", "uint256", "address", "bool"], data)
                collateral = topic_address(t[1])
                row |= {"event": "liquidation", "reserve": topic_address(t[2]), "user": topic_address(t[3]),
                        "caller": liquidator.lower(), "amount": debt, "collateral_reserve": collateral,
                        "collateral_amount": scaled(seized, self.decimals(collateral))}  # fmt: skip
            else:
                continue
            row["amount"] = scaled(row["amount"], self.decimals(row["reserve"]))
            events.append(row)
        for address, market_logs in comet.items():
            base = self.base_token(address)
            moved: dict[int, dict] = {}  # block -> the last row in it that moved the base asset
            for row in decode_comet_logs(market_logs, base, row_of):
                events.append({**row, "amount": scaled(row["amount"], self.decimals(row["reserve"]))})
                if row["reserve"] == base:
                    moved[row["block_number"]] = row
            for block, row in sorted(moved.items()):
                reserves.append(self._comet_reserve(address, base, block, row))
        events.sort(key=lambda r: (r["block_number"], r["log_index"], r["market"]))
        reserves.sort(key=lambda r: (r["block_number"], r["log_index"], r["market"]))
        return {"lending_events": table_from_records(LENDING_EVENTS, events),
                "lending_reserves": table_from_records(LENDING_RESERVES, reserves)}  # fmt: skip
