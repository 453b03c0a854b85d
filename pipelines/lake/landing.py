"""The landing sensor's load when the warehouse is the lake (``KIMERA_LAKE_URL``): each landed
micro-batch of ``kimera stream`` / ``kimera live`` (``raw.live_predictions``, the ccxt feed's
``raw.exchange_trades`` and ``raw.order_book_snapshots``, ``raw.exchange_gaps``) becomes one object
of the lake, ``raw/<table>/landed/<the landed file's name>``, which the ``raw.<table>`` views read
beside the hourly files.

The object's key is the landed file's name (venue, time range, ULID), so the load is idempotent per
file: a run retried after a crash between the upload and the move to ``loaded/`` finds the object
there and only moves the file. The lake needs no ledger table: the object is the record.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from kimera.schema import conform
from pipelines.lake.store import Lake, _parquet_bytes
from pipelines.landing.files import LandedFile
from pipelines.landing.load import LoadReport, load_each_pending

LANDED = "landed"


def landed_object(lake: Lake, landed: LandedFile) -> str:
    """The lake object a landed file becomes."""
    return lake.path("raw", landed.table.name, LANDED, landed.name)


def land_file_on_lake(lake: Lake, landed: LandedFile) -> int | None:
    """Write one landed file to the lake (whole, one PUT); the rows written, or None when the lake
    already holds it. A file whose rows repeat a natural key is refused, and nothing is written."""
    target = landed_object(lake, landed)
    if lake.fs.exists(target):
        return None
    table = landed.table
    rows = conform(table, pq.read_table(landed.path))
    keys = rows.group_by(list(table.key)).aggregate([]).num_rows
    if keys != rows.num_rows:
        raise ValueError(
            f"{landed.key}: {rows.num_rows - keys} duplicate natural key(s) {table.key}; the file is not loaded"
        )
    rows = rows.sort_by([(k, "ascending") for k in table.key])
    lake.fs.pipe(target, _parquet_bytes(rows))
    return rows.num_rows


def load_pending_to_lake(lake: Lake, landing_dir: Path, up_to: str | None = None) -> LoadReport:
    """Write every complete landed file (up to the ULID ``up_to``, if given) to the lake, oldest
    first, then move it to ``loaded/``."""
    return load_each_pending(lambda landed: land_file_on_lake(lake, landed), landing_dir, up_to)
