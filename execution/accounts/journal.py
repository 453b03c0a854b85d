"""The accounts' partition of the execution journal: every row carries its account.

Four tables beside the service's own (same database, same group-committing writer): the
decision per account and book, the orders with the strategy and leader signal behind them, the
fills, and every refusal with the rule that made it. SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from execution.journal import Journal, Statement

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS account_signals (
        signal_id TEXT NOT NULL, account TEXT NOT NULL, book TEXT NOT NULL, strategy TEXT,
        leader_signal_id TEXT, asset TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
        target {money}, at DOUBLE PRECISION NOT NULL, PRIMARY KEY (signal_id, account, book))""",
    """CREATE TABLE IF NOT EXISTS account_orders (
        client_order_id TEXT PRIMARY KEY, account TEXT NOT NULL, book TEXT NOT NULL, strategy TEXT,
        signal_id TEXT NOT NULL, leader_signal_id TEXT, asset TEXT NOT NULL, symbol TEXT NOT NULL,
        side TEXT NOT NULL, amount {money} NOT NULL, limit_price {money} NOT NULL,
        reference_price DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS account_orders_by_account ON account_orders (account)",
    """CREATE TABLE IF NOT EXISTS account_fills (
        venue TEXT NOT NULL, fill_id TEXT NOT NULL, client_order_id TEXT NOT NULL, account TEXT NOT NULL,
        symbol TEXT NOT NULL, side TEXT NOT NULL, price {money} NOT NULL, amount {money} NOT NULL,
        fee {money} NOT NULL, at DOUBLE PRECISION NOT NULL, PRIMARY KEY (venue, fill_id))""",
    "CREATE INDEX IF NOT EXISTS account_fills_by_account ON account_fills (account)",
    """CREATE TABLE IF NOT EXISTS account_refusals (
        seq {serial}, at DOUBLE PRECISION NOT NULL, account TEXT NOT NULL, book TEXT NOT NULL,
        rule TEXT NOT NULL, detail TEXT NOT NULL, asset TEXT, signal_id TEXT, leader_signal_id TEXT)""",
    "CREATE INDEX IF NOT EXISTS account_refusals_by_account ON account_refusals (account)",
]

SIGNAL_SQL = """INSERT INTO account_signals (signal_id, account, book, strategy, leader_signal_id, asset, outcome,
    detail, target, at) VALUES (?,?,?,?,?,?,?,?,?,?)"""
ORDER_SQL = """INSERT INTO account_orders (client_order_id, account, book, strategy, signal_id, leader_signal_id,
    asset, symbol, side, amount, limit_price, reference_price, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"""
FILL_SQL = """INSERT INTO account_fills (venue, fill_id, client_order_id, account, symbol, side, price, amount, fee, at)
    VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (venue, fill_id) DO NOTHING"""
REFUSAL_SQL = """INSERT INTO account_refusals (at, account, book, rule, detail, asset, signal_id, leader_signal_id)
    VALUES (?,?,?,?,?,?,?,?)"""

TABLES = ("account_signals", "account_orders", "account_fills", "account_refusals")


def schema(dialect: str) -> list[Statement]:
    """The DDL of the accounts' tables for ``dialect`` ('sqlite' or 'postgresql')."""
    money = "TEXT" if dialect == "sqlite" else "NUMERIC"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    return [(s.replace("{money}", money).replace("{serial}", serial), ()) for s in _SCHEMA]


def create_tables(journal: Journal) -> None:
    """Create the accounts' tables in an open journal (idempotent); returns once durable.

    The accounts' statements join the journal's batched ones (one per table, so row order is
    kept): a fan-out to many accounts is one ``executemany`` per table, not a statement per row.
    """
    journal.submit(schema(journal.dialect)).result()
    journal.batched = journal.batched | {SIGNAL_SQL, ORDER_SQL, FILL_SQL, REFUSAL_SQL}


def money(journal: Journal, value: Decimal | float | None) -> Any:
    """A money value as the journal stores it: exact text on SQLite, NUMERIC on PostgreSQL."""
    if value is None:
        return None
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return str(d) if journal.dialect == "sqlite" else d
