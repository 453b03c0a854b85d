"""``kimera sql``: read-only SQL over the warehouse, printed as a table, CSV or JSON lines."""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import click

from kimera.settings import get_settings


def query_warehouse(query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only statement in the sandbox (:mod:`kimera.app.sql_sandbox`); return column names and rows.

    Raises ``click.ClickException`` with a clear message when there is no warehouse yet, when the
    query is refused (several statements, a statement that would write or change a setting, a
    file, URL or extension outside the warehouse: the message says why), when another process is
    writing the warehouse, or when DuckDB refuses the query.
    """
    import duckdb

    from kimera.app.sql_sandbox import RefusedQuery, checked_statement, connect_sandboxed, explain_refusal

    settings = get_settings()
    path = settings.warehouse_path
    if settings.lake_url:  # the warehouse on object storage: read its files (kimera.app.lake_sql)
        from kimera.app.lake_sql import connect_lake_sandboxed

        path = settings.lake_url
        connect = lambda: connect_lake_sandboxed(settings)  # noqa: E731
    elif not path.exists():
        raise click.ClickException(f"no warehouse at {path}: run `kimera demo` (or `make demo`) first")
    else:
        connect = lambda: connect_sandboxed(path)  # noqa: E731
    try:
        with connect() as con:
            cursor = con.execute(checked_statement(con, query))
            if cursor.description is None:
                return [], []
            columns = [d[0] for d in cursor.description]
            return columns, cursor.fetchall()
    except RefusedQuery as exc:
        raise click.ClickException(str(exc)) from None
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise click.ClickException(
                f"the warehouse {path} is being written by another process (a Dagster run or "
                "`kimera demo`); try again when it has finished"
            ) from None
        raise click.ClickException(str(exc).splitlines()[0]) from None
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise click.ClickException(explain_refusal(first_line) or first_line) from None


def _plain(value: Any) -> Any:
    """A value JSON and CSV can carry: ISO times, exact decimals as text, NaN and infinities as null."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | timedelta):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def run_sql(query: str, fmt: str = "table", limit: int = 1000) -> None:
    """Print the query's rows as a table (at most ``limit``), as CSV, or as JSON lines (all rows)."""
    columns, rows = query_warehouse(query)
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        return
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}, default=str))
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
