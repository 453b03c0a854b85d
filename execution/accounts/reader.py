"""Read one account's partition of the journal (for the statements, the report and the status page)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from execution.journal_reader import JournalReader


def _dicts(reader: JournalReader, sql: str, params: tuple, columns: list[str]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in reader.rows(sql, params)]


def account_orders(reader: JournalReader, account: str) -> list[dict[str, Any]]:
    """The account's orders, oldest first, each with the strategy and leader signal behind it."""
    cols = ["client_order_id", "book", "strategy", "signal_id", "leader_signal_id", "asset", "symbol",
            "side", "amount", "limit_price", "reference_price", "created_at"]  # fmt: skip
    sql = (
        f"SELECT {', '.join(cols)} FROM account_orders WHERE account = ? ORDER BY created_at, client_order_id"
    )
    rows = _dicts(reader, sql, (account,), cols)
    for r in rows:
        r["amount"], r["limit_price"] = Decimal(str(r["amount"])), Decimal(str(r["limit_price"]))
    return rows


def account_fills(reader: JournalReader, account: str) -> list[dict[str, Any]]:
    """The account's fills, oldest first, joined to the order (strategy, leader signal)."""
    cols = ["venue", "fill_id", "client_order_id", "symbol", "side", "price", "amount", "fee", "at",
            "strategy", "signal_id", "leader_signal_id"]  # fmt: skip
    sql = """SELECT f.venue, f.fill_id, f.client_order_id, f.symbol, f.side, f.price, f.amount, f.fee, f.at,
               o.strategy, o.signal_id, o.leader_signal_id
             FROM account_fills f LEFT JOIN account_orders o ON o.client_order_id = f.client_order_id
             WHERE f.account = ? ORDER BY f.at, f.venue, f.fill_id"""
    rows = _dicts(reader, sql, (account,), cols)
    for r in rows:
        for k in ("price", "amount", "fee"):
            r[k] = Decimal(str(r[k]))
    return rows


def account_refusals(reader: JournalReader, account: str) -> list[dict[str, Any]]:
    """Every refusal of the account, oldest first, with its rule."""
    cols = ["at", "book", "rule", "detail", "asset", "signal_id", "leader_signal_id"]
    sql = f"SELECT {', '.join(cols)} FROM account_refusals WHERE account = ? ORDER BY seq"
    return _dicts(reader, sql, (account,), cols)


def accounts(reader: JournalReader) -> list[str]:
    """Every account that has a row in the journal."""
    if not reader.has_table("account_signals"):
        return []
    rows = reader.rows(
        "SELECT account FROM account_signals UNION SELECT account FROM account_refusals ORDER BY 1"
    )
    return [r[0] for r in rows]
