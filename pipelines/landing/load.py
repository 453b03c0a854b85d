"""Loading landed micro-batches into DuckDB, each file exactly once.

A file is loaded in one transaction that (1) checks the ledger ``raw.landed_files``, (2) replaces
rows with the same natural keys, (3) inserts the file's rows and (4) records the file in the
ledger. Only then is the file moved to ``loaded/``. A crash anywhere leaves either nothing done
(the file is loaded next time) or the ledger entry in place (the file is only moved next time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from kimera.schema import LANDED_FILES, conform
from pipelines.landing.files import LandedFile, move_to_loaded, pending
from pipelines.warehouse import ensure_raw_schema

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    files: int = 0
    skipped: int = 0  # already in the ledger (loaded before a crash, then only moved now)
    rows: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = ", ".join(f"{n} rows into raw.{t}" for t, n in sorted(self.rows.items())) or "no rows"
        return f"loaded {self.files} landed file(s): {parts}" + (
            f"; {self.skipped} already loaded" if self.skipped else ""
        )


def load_file(con: duckdb.DuckDBPyConnection, landed: LandedFile) -> int | None:
    """Load one landed file; the rows loaded, or None when the ledger says it was loaded already."""
    table = landed.table
    rows = conform(table, pq.read_table(landed.path))
    ensure_raw_schema(con, [table, LANDED_FILES])
    keys = ", ".join(f'"{k}"' for k in table.key)
    con.execute("BEGIN TRANSACTION")
    try:
        if con.execute("SELECT 1 FROM raw.landed_files WHERE file = ?", [landed.key]).fetchone():
            con.execute("ROLLBACK")
            return None
        con.register("_landed", rows)
        dupes = con.execute(f"SELECT count(*) - count(DISTINCT ({keys})) FROM _landed").fetchone()[0]
        if dupes:
            raise ValueError(
                f"{landed.key}: {dupes} duplicate natural key(s) {table.key}; the file is not loaded"
            )
        con.execute(f"DELETE FROM {table.qualified} WHERE ({keys}) IN (SELECT {keys} FROM _landed)")
        con.execute(f"INSERT INTO {table.qualified} BY NAME SELECT * FROM _landed")
        con.execute(
            "INSERT INTO raw.landed_files VALUES (?, ?, ?, ?)",
            [landed.key, table.name, rows.num_rows, datetime.now(UTC).replace(tzinfo=None)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_landed")
    return rows.num_rows


def load_pending(con: duckdb.DuckDBPyConnection, landing_dir: Path, up_to: str | None = None) -> LoadReport:
    """Load every complete landed file (up to the ULID ``up_to``, if given), oldest first."""
    return load_each_pending(lambda landed: load_file(con, landed), landing_dir, up_to)


def load_each_pending(
    load: Callable[[LandedFile], int | None], landing_dir: Path, up_to: str | None = None
) -> LoadReport:
    """``load`` every complete landed file (up to the ULID ``up_to``, if given), oldest first, then
    move it to ``loaded/``; ``load`` returns the rows it stored, or None for a file already loaded."""
    report = LoadReport()
    for landed in pending(landing_dir):
        if up_to is not None and landed.ulid > up_to:
            continue
        count = load(landed)
        if count is None:
            report.skipped += 1
        else:
            report.files += 1
            report.rows[landed.table.name] = report.rows.get(landed.table.name, 0) + count
        move_to_loaded(landing_dir, landed)
    if report.files or report.skipped:
        log.info("%s", report)
    return report
