"""What an ingest of a live source does around each window write, beside the rows themselves.

The ingest calls :func:`before_window` before fetching a window of a table and
:func:`after_window` once its rows are committed:

* chain and DEX tables of an RPC source: heal any reorg in what is stored (before), record the
  blocks read with their hashes (after) - :mod:`pipelines.sources.reorg`;
* exchange candles of the ccxt source: record the gaps found while paging in
  ``raw.exchange_gaps`` (after).

Sources without these abilities (the simulator, files) pass through untouched.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import duckdb

from kimera.schema import EXCHANGE_GAPS, EXCHANGE_OHLCV, RawTable
from pipelines.sources.base import ReorgAwareSource
from pipelines.sources.reorg import Healed, heal_reorg, record_coverage
from pipelines.warehouse import replace_window

log = logging.getLogger(__name__)


def _reorg_aware(table: RawTable, source: Any) -> bool:
    return isinstance(source, ReorgAwareSource) and table.name in source.tables


def before_window(con: duckdb.DuckDBPyConnection, table: RawTable, source: Any) -> Healed | None:
    """Heal a reorg in the source's stored rows before a new window of ``table`` is written."""
    if not _reorg_aware(table, source):
        return None
    return heal_reorg(con, source, lookback=getattr(source, "reorg_lookback", 128))


def after_window(
    con: duckdb.DuckDBPyConnection, table: RawTable, source: Any, start: datetime, end: datetime
) -> int:
    """Record what the window's fetch learned (blocks read, gaps found); returns rows recorded."""
    if _reorg_aware(table, source):
        return record_coverage(con, source, start, end)
    if table.name == EXCHANGE_OHLCV.name and hasattr(source, "gaps"):
        gaps = source.gaps(start, end)
        if gaps.num_rows:
            log.warning(
                "%d gap(s) in %s [%s, %s) recorded in raw.exchange_gaps",
                gaps.num_rows,
                table.qualified,
                start,
                end,
            )
        return replace_window(con, EXCHANGE_GAPS, start, end, gaps, scope=source.gap_scope())
    return 0
