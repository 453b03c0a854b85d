"""Writing raw tables: idempotent replacement of a window, in one transaction.

All raw writes go through :func:`replace_window` (or :func:`replace_where` for other scopes, such
as a reorged block range), so a failure in the middle leaves the previous contents and a re-run
leaves identical rows.

Natural keys are enforced here, on every write, instead of by a DuckDB ``PRIMARY KEY``: the ART
index behind one makes inserts ~6x slower and a delete-and-reinsert of a window up to 100x slower.
A write is refused when its rows repeat a key, or when a key already exists in the table outside
the part being replaced (checked with a semi-join, skipped where the replaced part provably holds
every row that could share a key: the key includes the time column and every scope column).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from kimera.schema import RAW_TABLES, RawTable, conform


class RowsRefused(ValueError):
    """Rows that break the raw table's contract (columns, types, window, keys); nothing was written.

    Retrying cannot help: the same source call gives the same rows.
    """


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, tables: Iterable[RawTable] | None = None) -> None:
    """Create schema ``raw`` and the raw tables that do not exist yet."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table in tables or RAW_TABLES.values():
        con.execute(table.ddl())


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def scope_sql(scope: Mapping[str, Sequence[Any]] | None) -> tuple[str, list[Any]]:
    """`` AND col IN (...)`` clauses (and their parameters) limiting a statement to ``scope``."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, values in (scope or {}).items():
        values = list(values)
        if not values:
            clauses.append("FALSE")
            continue
        clauses.append(f"{_quote(column)} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def _naive_utc(moment: datetime) -> datetime:
    """Warehouse timestamps are naive UTC; an aware datetime is converted rather than misread."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _examples(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    rows = con.execute(sql + " LIMIT 3").fetchall()
    return "; e.g. " + ", ".join(str(r) for r in rows) if rows else ""


def _conformed(table: RawTable, rows: pa.Table) -> pa.Table:
    try:
        return conform(table, rows)
    except ValueError as exc:
        message = str(exc)
        if table.qualified not in message:
            message = f"rows for {table.qualified} are refused: {message}"
        raise RowsRefused(message) from None


def _replace(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    where_sql: str,
    params: Sequence[Any],
    rows: pa.Table,
    inside_sql: str | None,
    may_collide: bool,
) -> int:
    """The one transaction every write is: check keys (and ``inside_sql``), delete, insert."""
    key = ", ".join(_quote(k) for k in table.key)
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_incoming", rows)
        # One pass over the new rows: how many fall outside the part replaced, how many repeat a key.
        outside_sql = f"NOT ({inside_sql})" if inside_sql is not None else "FALSE"
        outside, repeated = con.execute(
            f"SELECT count(*) FILTER (WHERE {outside_sql}), count(*) - count(DISTINCT ({key})) FROM _incoming",
            list(params) if inside_sql is not None else [],
        ).fetchall()[0]
        if outside:
            raise RowsRefused(f"{outside} row(s) for {table.qualified} fall outside the window being written")
        if repeated:
            raise RowsRefused(
                f"{repeated} repeated natural key(s) {table.key} in rows for {table.qualified}"
                + _examples(con, f"SELECT {key} FROM _incoming GROUP BY ALL HAVING count(*) > 1")
            )
        con.execute(f"DELETE FROM {table.qualified} WHERE {where_sql}", list(params))
        if may_collide:
            clash = f"SELECT {key} FROM {table.qualified} SEMI JOIN _incoming USING ({key})"
            ((clashes,),) = con.execute(f"SELECT count(*) FROM ({clash})").fetchall()
            if clashes:
                raise RowsRefused(
                    f"{clashes} row(s) for {table.qualified} repeat a natural key {table.key} "
                    f"already stored outside the part being replaced" + _examples(con, clash)
                )
        con.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM _incoming")
        con.execute("COMMIT")
    except duckdb.ConstraintException as exc:
        con.execute("ROLLBACK")
        raise RowsRefused(f"rows for {table.qualified} break a constraint: {exc}") from None
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_incoming")
    return rows.num_rows


def replace_where(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    where_sql: str,
    params: Sequence[Any],
    rows: pa.Table,
    check_inside: str | None = None,
    where_columns: Collection[str] | None = None,
) -> int:
    """Delete the rows matching ``where_sql`` and insert ``rows``, atomically; return rows inserted.

    ``rows`` are checked against the table's contract first (:class:`RowsRefused` otherwise). When
    ``check_inside`` is given (a SQL predicate over the new rows, taking ``params``), any new row
    outside it is refused, so a source cannot write outside the window it was asked for. A key
    repeated in ``rows``, or one that stays in the table outside ``where_sql``, is refused.
    ``where_columns`` names the columns ``where_sql`` reads; when the key covers them all and
    ``check_inside == where_sql``, no existing row can share a key and that check is skipped.
    Nothing is changed when anything fails.
    """
    rows = _conformed(table, rows)
    ensure_raw_schema(con, [table])
    may_collide = not (
        check_inside is not None
        and check_inside == where_sql
        and where_columns is not None
        and set(where_columns) <= set(table.key)
    )
    return _replace(con, table, where_sql, params, rows, check_inside, may_collide)


def _outside(
    table: RawTable, rows: pa.Table, start: datetime, end: datetime, scope: Mapping[str, Sequence[Any]]
) -> int:
    """How many rows fall outside ``[start, end)`` and the scope (Arrow kernels, no SQL round trip)."""
    if rows.num_rows == 0:
        return 0
    moment = rows[table.time_column]
    bounds = pa.scalar(start, moment.type), pa.scalar(end, moment.type)
    mask = pc.or_(pc.less(moment, bounds[0]), pc.greater_equal(moment, bounds[1]))
    for column, values in scope.items():
        allowed = pa.array(list(values), type=rows.schema.field(column).type)
        mask = pc.or_(mask, pc.invert(pc.is_in(rows[column], value_set=allowed)))
    return pc.sum(mask).as_py() or 0


def replace_window(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    start: datetime,
    end: datetime,
    rows: pa.Table,
    scope: Mapping[str, Sequence[Any]] | None = None,
    ensure_table: bool = True,
) -> int:
    """Replace the half-open window ``[start, end)`` of ``table`` with ``rows``, atomically.

    ``scope`` limits what is replaced to the given column values (e.g. ``{"venue": ["binance"]}``)
    so that one source's write never deletes another source's rows. Every new row must lie inside
    the window (and scope), and no key may repeat; otherwise nothing is written (:class:`RowsRefused`).
    Aware datetimes are converted to naive UTC. ``ensure_table=False`` skips creating the table
    (for callers that did so once before many writes).
    """
    start, end = _naive_utc(start), _naive_utc(end)
    if not start < end:
        raise ValueError(f"window start {start} must be before its end {end}")
    if not table.partitioned:
        raise ValueError(f"{table.qualified} is a reference table: write it with replace_reference")
    scope = scope or {}
    rows = _conformed(table, rows)
    outside = _outside(table, rows, start, end, scope)
    if outside:
        raise RowsRefused(
            f"{outside} row(s) for {table.qualified} fall outside the window being written "
            f"[{start.isoformat()}, {end.isoformat()}) and scope {dict(scope)}"
        )
    if ensure_table:
        ensure_raw_schema(con, [table])
    col = _quote(table.time_column)
    in_scope, scope_params = scope_sql(scope)
    where = f"{col} >= ? AND {col} < ?{in_scope}"
    # The window and scope pin every column of the key they cover; if they cover all of it, any
    # stored row sharing a key with a new row is inside the part deleted, and cannot clash.
    may_collide = not {table.time_column, *scope} <= set(table.key)
    return _replace(con, table, where, [start, end, *scope_params], rows, None, may_collide)


def replace_reference(
    con: duckdb.DuckDBPyConnection,
    table: RawTable,
    rows: pa.Table,
    scope: Mapping[str, Sequence[Any]] | None = None,
) -> int:
    """Rewrite a reference table (or its ``scope``) whole, atomically; every row must lie in ``scope``."""
    in_scope, params = scope_sql(scope)
    where = "TRUE" + in_scope
    return replace_where(con, table, where, params, rows, check_inside=where, where_columns=list(scope or {}))
