"""A window of the lake's raw tables as one local DuckDB file: what ``kimera backtest`` replays when
the warehouse is the lake (``KIMERA_LAKE_URL``).

The replay reads a DuckDB file (its feed streams each table in time order, its chunked features
attach the file); copying the window's rows once from the lake's Parquet files into a file shaped
as the local warehouse (the contract's tables and types) gives it the same input, row for row, so a
backtest on the lake stores the rows a local one does. The copy is written beside its final name
and moved there whole: a failed copy leaves no half a window to replay.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import duckdb

from kimera.schema import PARTITIONED_TABLES, REFERENCE_TABLES
from pipelines.lake.store import Lake, attach_raw_views
from pipelines.warehouse import ensure_raw_schema


def snapshot_window(lake: Lake, path: Path, start: datetime, end: datetime) -> dict[str, int]:
    """Write ``path``: every raw table of the contract, holding the lake's rows with time in
    ``[start, end)`` (reference tables whole); returns the rows copied per table that has any."""
    if not start < end:
        raise ValueError(f"the window [{start}, {end}) is empty: start must be before end")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    copied: dict[str, int] = {}
    with duckdb.connect(":memory:") as reader, duckdb.connect(str(partial)) as target:
        found = set(attach_raw_views(lake, reader))
        ensure_raw_schema(target)
        for table in (*PARTITIONED_TABLES, *REFERENCE_TABLES):
            if table.name not in found:
                continue
            window = (
                f'WHERE "{table.time_column}" >= $start AND "{table.time_column}" < $end'
                if table.partitioned
                else ""
            )
            rows = reader.sql(
                f"SELECT * FROM {table.qualified} {window} ORDER BY ALL",
                params={"start": start, "end": end} if window else None,
            ).to_arrow_table()
            if rows.num_rows:
                target.register("rows", rows)
                target.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM rows")
                target.unregister("rows")
                copied[table.name] = rows.num_rows
    os.replace(partial, path)
    return copied
