"""``kimera sql``: read-only SQL over the warehouse, printed as a table, CSV or JSON lines."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from kimera.settings import get_settings


def query_warehouse(query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``query`` on a read-only connection; return column names and rows.

    Raises ``click.ClickException`` with a clear message when there is no warehouse yet or the
    query is refused (a write on the read-only connection, a syntax error, an unknown table).
    """
    import duckdb

    path = get_settings().warehouse_path
    if not path.exists():
        raise click.ClickException(f"no warehouse at {path}: run `kimera demo` (or `make demo`) first")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            cursor = con.execute(query)
            if cursor.description is None:
                return [], []
            columns = [d[0] for d in cursor.description]
            return columns, cursor.fetchall()
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        if "read-only" in str(exc).lower():
            first_line += " (kimera sql is read-only: use SELECT, DESCRIBE, SHOW, EXPLAIN)"
        raise click.ClickException(first_line) from None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def run_sql(query: str, fmt: str = "table", limit: int = 1000) -> None:
    columns, rows = query_warehouse(query)
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        return
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for row in rows[:limit]:
        table.add_row(*("NULL" if v is None else str(_plain(v)) for v in row))
    console = Console(width=max(120, min(240, 14 * max(1, len(columns)))))
    console.print(table)
    if len(rows) > limit:
        console.print(f"({len(rows)} rows, first {limit} shown; use --csv or --json for all)")
    else:
        console.print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
