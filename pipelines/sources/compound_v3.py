"""Compound V3 (Comet) events decoded with Comet's published ABI (``protocol: compound_v3``).

No Comet bytecode is published on npm, so the ABI is vendored: ``comet_abi.json`` is the ``abi`` of
``@compound-finance/compound-js`` 0.6.2 (``dist/nodejs/comet-artifacts/comet-constants.json``,
BSD-3-Clause, its licence text kept in the file). Topics are computed from that ABI, not typed in.

A Comet market lends one base asset (``baseToken()``) against collateral assets. How its logs
become ``raw.lending_events`` rows:

* ``Supply(from, dst, amount)`` of the base asset first repays ``dst``'s debt, and only the rest is
  supplied; Comet then emits ``Transfer(0, dst, supplied)`` right after it. So the ``Supply`` log
  gives a ``repay`` row of ``amount - supplied`` (when positive) and the ``Transfer`` log a
  ``supply`` row of ``supplied``.
* ``Withdraw(src, to, amount)`` likewise: ``Transfer(src, 0, withdrawn)`` follows for the part that
  came out of a supply balance (a ``withdraw`` row on that log); the rest is a ``borrow`` row on
  the ``Withdraw`` log. ``supplied``/``withdrawn`` are Comet's present values, rounded down from
  its principal, so a split can be off by one base unit.
* ``SupplyCollateral`` / ``WithdrawCollateral``: ``supply`` / ``withdraw`` of that collateral asset.
* ``AbsorbDebt(absorber, borrower, basePaidOut, usd)``: a ``liquidation`` row (amount: the debt
  absorbed); each ``AbsorbCollateral(absorber, borrower, asset, amount, usd)`` of the same absorb is
  a ``collateral_absorbed`` row of that asset (one per collateral asset, so not on the liquidation
  row, whose collateral columns stay empty).
* ``raw.lending_reserves``: one row per block in which the base asset moved, at the last such log,
  read from Comet's view functions at that block: ``totalSupply()``/``totalBorrow()`` (present
  values), ``getSupplyRate``/``getBorrowRate(getUtilization())`` (per second, 1e18) made yearly
  with Comet's 365-day year, and ``totalsBasic()``'s supply and borrow indexes (1e15) as the indexes.
  Comet has no stable rate: 0.
* Not turned into rows: ``Transfer`` between accounts (a supply position moving), the ``Transfer``
  minted to a borrower whose absorbed collateral exceeded the debt, ``TransferCollateral``,
  ``BuyCollateral`` (the protocol selling absorbed collateral) and ``WithdrawReserves``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

from eth_abi import decode

from connect.evm import _data, first_topic, topic, topic_address

ABI_FILE = Path(__file__).with_name("comet_abi.json")
ZERO = "0x" + "0" * 40
SECONDS_PER_YEAR = 31_536_000  # Comet's (365 days)
RATE_SCALE = 10**18
INDEX_SCALE = 10**15

DECODED = ("Supply", "Withdraw", "SupplyCollateral", "WithdrawCollateral", "AbsorbDebt", "AbsorbCollateral",
           "Transfer")  # fmt: skip


@cache
def comet_abi() -> list[dict]:
    """Comet's published ABI (the vendored compound-js 0.6.2 copy)."""
    return json.loads(ABI_FILE.read_text())["abi"]


@cache
def comet_events() -> dict[str, dict]:
    """Event name -> {topic, indexed, data}: the topic from the ABI's signature, the indexed and
    unindexed input types in order."""
    found = {}
    for e in comet_abi():
        if e.get("type") == "event" and e["name"] in DECODED:
            types = [i["type"] for i in e["inputs"]]
            found[e["name"]] = {
                "topic": topic(f"{e['name']}({','.join(types)})").lower(),
                "indexed": [i["type"] for i in e["inputs"] if i["indexed"]],
                "data": [i["type"] for i in e["inputs"] if not i["indexed"]],
            }
    missing = set(DECODED) - set(found)
    if missing:
        raise ValueError(f"{ABI_FILE} lacks Comet events {sorted(missing)}")
    return found


def comet_topics() -> list[str]:
    return [e["topic"] for e in comet_events().values()]


def _name(log: dict) -> str | None:
    kind = first_topic(log)
    return next((n for n, e in comet_events().items() if e["topic"] == kind), None)


def decode_comet_logs(logs: list[dict], base: str, row_of: Callable[[dict], dict]) -> list[dict]:
    """Rows (without decimal scaling: ``amount`` in token units, int) for one Comet market's logs,
    sorted by block and log index. ``base`` is the market's base token; ``row_of(log)`` gives the
    common columns of a log (chain, market, block, log index, tx, ts)."""
    rows: list[dict] = []
    for i, entry in enumerate(logs):
        name = _name(entry)
        if name is None or name == "Transfer":
            continue  # Transfers are read with the Supply/Withdraw they follow
        t, data = entry["topics"], decode(comet_events()[name]["data"], _data(entry))
        row = {**row_of(entry), "collateral_reserve": None, "collateral_amount": None, "borrow_rate": None}
        if name in ("Supply", "Withdraw"):
            who = topic_address(t[2]) if name == "Supply" else topic_address(t[1])
            sender = topic_address(t[1])
            (amount,) = data
            moved = _paired_transfer(logs, i, who, mint=name == "Supply")
            if moved is not None:
                follower, part = moved
                rows.append({**row_of(follower), **{k: row[k] for k in ("collateral_reserve", "collateral_amount",
                             "borrow_rate")}, "event": "supply" if name == "Supply" else "withdraw",
                             "reserve": base, "user": who, "caller": sender, "amount": part})  # fmt: skip
                amount -= part
            if amount > 0:
                rows.append({**row, "event": "repay" if name == "Supply" else "borrow", "reserve": base,
                             "user": who, "caller": sender, "amount": amount})  # fmt: skip
        elif name in ("SupplyCollateral", "WithdrawCollateral"):
            (amount,) = data
            who = topic_address(t[2]) if name == "SupplyCollateral" else topic_address(t[1])
            rows.append({**row, "event": "supply" if name == "SupplyCollateral" else "withdraw",
                         "reserve": topic_address(t[3]), "user": who, "caller": topic_address(t[1]),
                         "amount": amount})  # fmt: skip
        elif name == "AbsorbDebt":
            paid_out, _usd = data
            rows.append({**row, "event": "liquidation", "reserve": base, "user": topic_address(t[2]),
                         "caller": topic_address(t[1]), "amount": paid_out})  # fmt: skip
        elif name == "AbsorbCollateral":
            absorbed, _usd = data
            rows.append({**row, "event": "collateral_absorbed", "reserve": topic_address(t[3]),
                         "user": topic_address(t[2]), "caller": topic_address(t[1]), "amount": absorbed})  # fmt: skip
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    return rows


def _paired_transfer(logs: list[dict], i: int, who: str, mint: bool) -> tuple[dict, int] | None:
    """The ``Transfer`` Comet emits right after a base ``Supply`` (minted to ``dst``) or ``Withdraw``
    (burnt from ``src``): same transaction, next log."""
    if i + 1 >= len(logs):
        return None
    nxt, this = logs[i + 1], logs[i]
    if _name(nxt) != "Transfer" or nxt["transactionHash"] != this["transactionHash"]:
        return None
    if int(nxt["logIndex"]) != int(this["logIndex"]) + 1:
        return None
    src, dst = topic_address(nxt["topics"][1]), topic_address(nxt["topics"][2])
    if (src, dst) != ((ZERO, who) if mint else (who, ZERO)):
        return None
    (amount,) = decode(["uint256"], _data(nxt))
    return nxt, amount


def comet_state(read: Callable[[str, object], object], comet, block: int) -> dict:
    """The market's state at the end of ``block``: rates yearly, indexes as fractions, totals in base
    token units (int). ``read(label, function_call)`` performs one view call at that block."""
    f = comet.functions
    utilisation = int(read("getUtilization()", f.getUtilization()))
    totals = read("totalsBasic()", f.totalsBasic())
    return {
        "supply_rate": int(read("getSupplyRate()", f.getSupplyRate(utilisation)))
        * SECONDS_PER_YEAR
        / RATE_SCALE,
        "variable_borrow_rate": int(read("getBorrowRate()", f.getBorrowRate(utilisation)))
        * SECONDS_PER_YEAR
        / RATE_SCALE,
        "stable_borrow_rate": 0.0,
        "liquidity_index": int(totals[0]) / INDEX_SCALE,
        "variable_borrow_index": int(totals[1]) / INDEX_SCALE,
        "total_supplied": int(read("totalSupply()", f.totalSupply())),
        "total_borrowed": int(read("totalBorrow()", f.totalBorrow())),
    }
