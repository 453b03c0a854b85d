"""Raw tables as one Parquet file per hourly partition on an object store, written whole.

Layout under the lake's root (``s3://bucket/prefix``)::

    raw/<table>/date=<YYYY-MM-DD>/hour=<HH>.parquet     partitioned tables, one file per hour
    raw/<table>/all.parquet                             reference tables, one file
    raw/<table>/landed/<landed file name>.parquet       what the live loop landed, one file each
    marts/<mart>/asset=<ASSET>/data.parquet             marts, one file per asset

A partition is one object written by one PUT: readers see the old file or the new one, never half
of either, while a writer appends or rewrites (object stores have no rename, but replace an
object atomically). Rewriting a window writes the same keys again, so the ingest's idempotence
holds per partition file; an hour the source has no rows for loses its file, so a rewrite leaves
exactly what the source gave. DuckDB reads the files through the fsspec filesystem registered on
its connection (DuckDB's own httpfs extension is not needed).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kimera.schema import EXCHANGE_GAPS, LIVE_PREDICTIONS, PARTITIONED_TABLES, REFERENCE_TABLES, RawTable

HOUR = timedelta(hours=1)
MARTS = ("features", "labels")
# tables only the live loop lands (pipelines.lake.landing): their files are raw/<table>/landed/*.parquet
LANDED_ONLY: tuple[RawTable, ...] = (EXCHANGE_GAPS, LIVE_PREDICTIONS)


@dataclass(frozen=True)
class Lake:
    """Where the lake lives (``root``, e.g. ``s3://kimera/lake``) and the fsspec filesystem to reach it."""

    root: str
    fs: object  # fsspec.AbstractFileSystem

    @property
    def protocol(self) -> str:
        return self.root.split("://", 1)[0]

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])


def open_lake(url: str, endpoint_url: str | None = None) -> Lake:
    """The lake at ``url`` (``s3://bucket/prefix``, ``gcs://...``, ``memory://...``); an S3-compatible
    server (MinIO, R2, a local test server) is reached at ``endpoint_url``. Credentials come from
    the filesystem's own chain (for S3: environment, profile, instance role), never from here."""
    import fsspec

    if "://" not in url:
        raise ValueError(f"lake url {url!r}: expected a URL such as s3://bucket/prefix")
    protocol = url.split("://", 1)[0]
    options = {"client_kwargs": {"endpoint_url": endpoint_url}} if endpoint_url else {}
    try:
        fs = fsspec.filesystem(protocol, **options)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"lake url {url!r}: no fsspec filesystem for {protocol!r} ({exc})") from exc
    return Lake(root=url.rstrip("/"), fs=fs)


def partition_path(lake: Lake, table: RawTable, hour: datetime) -> str:
    """The file of ``table``'s partition that starts at ``hour`` (naive UTC)."""
    return lake.path("raw", table.name, f"date={hour:%Y-%m-%d}", f"hour={hour:%H}.parquet")


def write_window(lake: Lake, table: RawTable, start: datetime, end: datetime, rows: pa.Table) -> int:
    """Replace ``table``'s hourly partition files in ``[start, end)`` with ``rows``; returns files written.

    ``rows`` must all lie in the window and have the contract's columns; nothing is written when
    they do not. Each hour's rows become one file (sorted by the natural key, so a rewrite of the
    same rows gives the same bytes); an hour without rows has its file removed.
    """
    if not table.partitioned:
        raise ValueError(f"raw.{table.name} is a reference table: use write_reference")
    if start.minute or start.second or end.minute or end.second or not start < end:
        raise ValueError(f"window [{start}, {end}) must be whole hours, start before end")
    rows = rows.select(table.columns).cast(table.schema)
    times = rows.column(table.time_column)
    if len(rows) and (pc.min(times).as_py() < start or pc.max(times).as_py() >= end):
        raise ValueError(
            f"raw.{table.name}: rows from {pc.min(times).as_py()} to {pc.max(times).as_py()} "
            f"fall outside the window [{start}, {end})"
        )
    rows = rows.sort_by([(k, "ascending") for k in table.key])
    hours = pc.floor_temporal(rows.column(table.time_column), unit="hour") if len(rows) else None
    written = 0
    hour = start
    while hour < end:
        path = partition_path(lake, table, hour)
        part = rows.filter(pc.equal(hours, pa.scalar(hour, pa.timestamp("us")))) if len(rows) else rows
        if len(part):
            lake.fs.pipe(path, _parquet_bytes(part))
            written += 1
        elif lake.fs.exists(path):
            lake.fs.rm(path)
        hour += HOUR
    return written


def write_reference(lake: Lake, table: RawTable, rows: pa.Table) -> None:
    """Replace a reference table's single file with ``rows``."""
    rows = rows.select(table.columns).cast(table.schema).sort_by([(k, "ascending") for k in table.key])
    lake.fs.pipe(lake.path("raw", table.name, "all.parquet"), _parquet_bytes(rows))


def _parquet_bytes(rows: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(rows, buffer, compression="zstd")
    return buffer.getvalue()


def raw_glob(lake: Lake, table: RawTable) -> str:
    """The glob DuckDB reads ``table`` from (a partitioned table's landed files match it too)."""
    if table in LANDED_ONLY:
        return lake.path("raw", table.name, "landed", "*.parquet")
    return (
        lake.path("raw", table.name, "*", "*.parquet")
        if table.partitioned
        else lake.path("raw", table.name, "all.parquet")
    )


@contextmanager
def lake_reader(
    lake: Lake, con: duckdb.DuckDBPyConnection | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection (in memory unless given) that reads the lake: ``raw.<table>`` views over
    the files of every raw table that has any. Several readers may run while a writer appends."""
    own = con is None
    con = con or duckdb.connect()
    try:
        attach_raw_views(lake, con)
        yield con
    finally:
        if own:
            con.close()


def attach_raw_views(lake: Lake, con: duckdb.DuckDBPyConnection) -> list[str]:
    """Register the lake's filesystem on ``con`` and (re)create ``raw.<table>`` as views over its
    files, replacing local tables of those names; returns the tables found in the lake."""
    if not con.filesystem_is_registered(lake.protocol):
        con.register_filesystem(lake.fs)
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    local = {
        n
        for (n,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()
    }
    found = []
    for table in (*PARTITIONED_TABLES, *REFERENCE_TABLES, *LANDED_ONLY):
        if not lake.fs.glob(raw_glob(lake, table).split("://", 1)[1]):
            continue
        if table.name in local:  # a view from an earlier connection is replaced below
            con.execute(f"DROP TABLE {table.qualified}")
        columns = ", ".join(f'"{c}"' for c in table.columns)
        con.execute(
            f"CREATE OR REPLACE VIEW {table.qualified} AS SELECT {columns} FROM read_parquet('{raw_glob(lake, table)}')"
        )
        found.append(table.name)
    return found


def export_marts(lake: Lake, con: duckdb.DuckDBPyConnection) -> int:
    """Make the lake's mart files equal ``marts.features`` and ``marts.labels`` of ``con``: one file
    per asset (each replaced whole), and the file of an asset the marts no longer hold (dropped from
    the config, then rebuilt with ``--full-refresh``) deleted; returns the files written."""
    if not con.filesystem_is_registered(lake.protocol):
        con.register_filesystem(lake.fs)
    written = 0
    for mart in MARTS:
        assets = [
            a for (a,) in con.execute(f"SELECT DISTINCT asset FROM marts.{mart} ORDER BY asset").fetchall()
        ]
        # the stale files go first: a reader may see an asset missing, never one the marts dropped
        for stale in sorted(set(mart_assets(lake, mart)) - set(assets)):
            lake.fs.rm(lake.path("marts", mart, f"asset={stale}").split("://", 1)[1], recursive=True)
        for asset in assets:
            path = lake.path("marts", mart, f"asset={asset}", "data.parquet")
            rows = con.sql(
                f"SELECT * FROM marts.{mart} WHERE asset = $asset ORDER BY ALL", params={"asset": asset}
            ).to_arrow_table()
            lake.fs.pipe(path, _parquet_bytes(rows))
            written += 1
    return written


def mart_assets(lake: Lake, mart: str) -> list[str]:
    """The assets that have a file of ``mart`` in the lake."""
    files = lake.fs.glob(lake.path("marts", mart, "asset=*", "data.parquet").split("://", 1)[1])
    return sorted(f.rsplit("/", 2)[-2].removeprefix("asset=") for f in files)


def attach_mart_views(lake: Lake, con: duckdb.DuckDBPyConnection) -> list[str]:
    """``marts.<mart>`` as views over the lake's mart files (those exported so far); returns the marts found."""
    if not con.filesystem_is_registered(lake.protocol):
        con.register_filesystem(lake.fs)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    found = []
    for mart in MARTS:
        files = lake.path("marts", mart, "*", "data.parquet")
        if not lake.fs.glob(files.split("://", 1)[1]):
            continue
        con.execute(f"CREATE OR REPLACE VIEW marts.{mart} AS SELECT * FROM read_parquet('{files}')")
        found.append(mart)
    return found
