"""Writing raw tables: idempotent replacement of a window, in one transaction.

All raw writes go through :func:`replace_window` (or :func:`replace_where` for other scopes, such
as a reorged block range), so a failure in the middle leaves the previous contents and a re-run
leaves identical rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from kimera.schema import RAW_TABLES, RawTable, conform


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, tables: Iterable[RawTable] | None = None) -> None:
    """Create schema ``raw`` and the raw tables that do not exist yet."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table in tables or RAW_TABLES.values():
        con.execute(table.ddl())


def _scope_sql(scope: Mapping[str, Sequence[Any]] | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (scope or {}).items():
        values = list(values)
        if not values:
            clauses.append("FALSE")
            continue
        clauses.append(f'"{column}" IN ({", ".join("?" for _ in values)})')
        params.extend(values)
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def replace_where(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    where_sql: str,
    params: Sequence[Any],
    rows: pa.Table,
    check_inside: str | None = None,
) -> int:
    """Delete the rows matching ``where_sql`` and insert ``rows``, atomically; return rows inserted.

    ``rows`` are checked against the table's contract first. When ``check_inside`` is given (a
    SQL predicate over the new rows), any new row outside it is refused, so a source cannot write
    outside the window it was asked for. Nothing is changed when anything fails.
    """
    rows = conform(table, rows)
    ensure_raw_schema(con, [table])
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_incoming", rows)
        if check_inside is not None:
            outside = con.execute(
                f"SELECT count(*) FROM _incoming WHERE NOT ({check_inside})", list(params)
            ).fetchone()[0]
            if outside:
                raise ValueError(
                    f"{outside} row(s) for {table.qualified} fall outside the window being written"
                )
        dupes = con.execute(
            f"SELECT count(*) - count(DISTINCT ({', '.join(table.key)})) FROM _incoming"
        ).fetchone()[0]
        if dupes:
            raise ValueError(f"{dupes} duplicate natural key(s) {table.key} in rows for {table.qualified}")
        con.execute(f"DELETE FROM {table.qualified} WHERE {where_sql}", list(params))
        con.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM _incoming")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_incoming")
    return rows.num_rows


def replace_window(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    start: datetime,
    end: datetime,
    rows: pa.Table,
    scope: Mapping[str, Sequence[Any]] | None = None,
) -> int:
    """Replace the half-open window ``[start, end)`` of ``table`` with ``rows``, atomically.

    ``scope`` limits what is replaced to the given column values (e.g. ``{"venue": ["binance"]}``)
    so that one source's write never deletes another source's rows. Every new row must lie inside
    the window (and scope); otherwise nothing is written.
    """
    if not start < end:
        raise ValueError(f"window start {start} must be before its end {end}")
    col = f'"{table.time_column}"'
    scope_sql, scope_params = _scope_sql(scope)
    where = f"{col} >= ? AND {col} < ?{scope_sql}"
    params = [start, end, *scope_params]
    return replace_where(con, table, where, params, rows, check_inside=where)


def replace_reference(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    rows: pa.Table,
    scope: Mapping[str, Sequence[Any]] | None = None,
) -> int:
    """Rewrite a reference table (or its ``scope``) whole, atomically."""
    scope_sql, params = _scope_sql(scope)
    return replace_where(con, table, "TRUE" + scope_sql, params, rows)
