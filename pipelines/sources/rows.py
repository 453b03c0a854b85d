"""Small helpers to turn fetched records into raw-table rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from kimera.schema import RawTable, conform

EPOCH = datetime(1970, 1, 1)


def ms_to_ts(ms: int | float) -> datetime:
    """Naive UTC datetime (microsecond precision) of a millisecond epoch timestamp."""
    return EPOCH + timedelta(microseconds=round(ms * 1000))


def ts_to_ms(ts: datetime) -> int:
    """Millisecond epoch of a naive-UTC (or aware) datetime."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return (ts - EPOCH) // timedelta(milliseconds=1)


def table_from_records(table: RawTable, records: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows of ``table`` from dicts keyed by its column names (checked against its contract)."""
    if not records:
        return table.empty()
    columns = {name: [r[name] for r in records] for name in table.columns}
    return conform(
        table, pa.table({n: pa.array(v, type=table.schema.field(n).type) for n, v in columns.items()})
    )


def dedupe(table: RawTable, parts: Iterable[pa.Table]) -> pa.Table:
    """Concatenate ``parts`` keeping the first row of each natural key (earlier parts win)."""
    parts = [conform(table, p) for p in parts if p.num_rows]
    if not parts:
        return table.empty()
    rows = pa.concat_tables(parts)
    rows = rows.append_column("_order", pa.array(range(rows.num_rows), type=pa.int64()))
    firsts = rows.group_by(list(table.key), use_threads=False).aggregate([("_order", "min")])
    keep = firsts.column("_order_min").to_pylist()
    keep.sort()
    return rows.take(pa.array(keep, type=pa.int64())).drop_columns(["_order"])
