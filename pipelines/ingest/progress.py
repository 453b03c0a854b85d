"""Chunk progress of an ingest step, as a log line the run's event log carries.

The asset logs one line per committed chunk; ``kimera demo`` reads them back from the Dagster
event stream to drive its progress bars, and the UI shows them in the run's logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_PATTERN = re.compile(r"^ingest chunk (\d+)/(\d+) of (raw\.\w+): (\d+) rows \[(.+), (.+)\)$")


@dataclass(frozen=True)
class ChunkProgress:
    table: str
    done: int
    total: int
    rows: int
    start: datetime
    end: datetime


def chunk_message(table: str, done: int, total: int, rows: int, start: datetime, end: datetime) -> str:
    return f"ingest chunk {done}/{total} of {table}: {rows} rows [{start.isoformat()}, {end.isoformat()})"


def parse_chunk_message(message: str | None) -> ChunkProgress | None:
    """The progress a :func:`chunk_message` line reports, or None for any other line."""
    match = _PATTERN.match(message or "")
    if match is None:
        return None
    done, total, table, rows, start, end = match.groups()
    return ChunkProgress(
        table, int(done), int(total), int(rows), datetime.fromisoformat(start), datetime.fromisoformat(end)
    )
