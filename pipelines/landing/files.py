"""The landing folder: Parquet micro-batches written by ``kimera stream``, loaded later by a sensor.

Layout under ``KIMERA_HOME/landing``::

    incoming/<table>/<venue>--<first ms>--<last ms>--<ulid>.parquet   written, not loaded yet
    loaded/<table>/<same name>                                        loaded into DuckDB

A file appears in ``incoming/`` only complete (written to a hidden temporary name, flushed, then
renamed), so a reader never sees half a batch. Names carry the venue and the time range of the
rows, so readers pick files without opening them, and sort by the ULID's time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ulid import ULID

from kimera.schema import (
    EXCHANGE_GAPS,
    EXCHANGE_TRADES,
    LIVE_PREDICTIONS,
    ORDER_BOOK_SNAPSHOTS,
    RawTable,
    conform,
)

# Raw tables `kimera stream` and `kimera live` land; nothing else may be loaded from the landing folder.
LANDING_TABLES: dict[str, RawTable] = {
    t.name: t for t in (EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS, EXCHANGE_GAPS, LIVE_PREDICTIONS)
}
INCOMING = "incoming"
LOADED = "loaded"


@dataclass(frozen=True)
class LandedFile:
    """One landed micro-batch, known by its path; its name says table, venue and time range."""

    path: Path
    table: RawTable
    venue: str
    first_ms: int
    last_ms: int
    ulid: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def key(self) -> str:
        """The ledger key: ``<table>/<file name>``, the same whether incoming or loaded."""
        return f"{self.table.name}/{self.path.name}"

    @classmethod
    def parse(cls, path: Path) -> LandedFile | None:
        table = LANDING_TABLES.get(path.parent.name)
        parts = path.name.removesuffix(".parquet").split("--")
        if table is None or not path.name.endswith(".parquet") or len(parts) != 4:
            return None
        venue, first, last, ulid = parts
        try:
            return cls(path, table, venue, int(first), int(last), ulid)
        except ValueError:
            return None


def _ms(ts: datetime) -> int:
    return (
        int(ts.timestamp() * 1000) if ts.tzinfo else int((ts - datetime(1970, 1, 1)).total_seconds() * 1000)
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def land(landing_dir: Path, table: RawTable, venue: str, rows: pa.Table) -> LandedFile | None:
    """Write ``rows`` of ``table`` for ``venue`` as one complete file in ``incoming/``; None if empty."""
    if table.name not in LANDING_TABLES:
        raise ValueError(f"raw.{table.name} is not landed; landing tables are {sorted(LANDING_TABLES)}")
    rows = conform(table, rows)
    if rows.num_rows == 0:
        return None
    times = rows.column(table.time_column).cast(pa.int64())  # microseconds
    first_ms = pc.min(times).as_py() // 1000
    last_ms = pc.max(times).as_py() // 1000
    folder = landing_dir / INCOMING / table.name
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{venue}--{first_ms}--{last_ms}--{ULID()}.parquet"
    temporary = folder / f".{name}.tmp"
    with temporary.open("wb") as sink:
        pq.write_table(rows, sink)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, folder / name)
    _fsync_dir(folder)
    return LandedFile.parse(folder / name)


def _files(landing_dir: Path, state: str, table: str | None = None) -> list[LandedFile]:
    root = landing_dir / state
    if not root.is_dir():
        return []
    folders = [root / table] if table else [root / t for t in LANDING_TABLES]
    found = []
    for folder in folders:
        if folder.is_dir():
            found.extend(f for f in map(LandedFile.parse, folder.glob("*.parquet")) if f is not None)
    return sorted(found, key=lambda f: (f.ulid, f.key))


def pending(landing_dir: Path) -> list[LandedFile]:
    """Complete files not loaded yet, oldest first."""
    return _files(landing_dir, INCOMING)


def loaded(landing_dir: Path) -> list[LandedFile]:
    """Files already loaded, oldest first."""
    return _files(landing_dir, LOADED)


def move_to_loaded(landing_dir: Path, landed: LandedFile) -> Path:
    """Move a loaded file out of ``incoming/`` (idempotent: a file already moved stays put)."""
    target = landing_dir / LOADED / landed.table.name / landed.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if landed.path.exists():
        os.replace(landed.path, target)
    return target


def read_landed(
    landing_dir: Path, table: RawTable, venues: list[str], start: datetime, end: datetime
) -> pa.Table:
    """Every landed row (loaded or not) of ``table`` for ``venues`` with time in ``[start, end)``."""
    start_ms, end_ms = _ms(start), _ms(end)
    chosen = [
        f
        for state in (INCOMING, LOADED)
        for f in _files(landing_dir, state, table.name)
        if f.venue in venues and f.last_ms >= start_ms and f.first_ms < end_ms
    ]
    if not chosen:
        return table.empty()
    parts = [conform(table, pq.read_table(f.path)) for f in chosen]
    rows = pa.concat_tables(parts)
    times = rows.column(table.time_column)
    inside = pc.and_(
        pc.greater_equal(times, pa.scalar(start, type=times.type)),
        pc.less(times, pa.scalar(end, type=times.type)),
    )
    return rows.filter(inside)
