"""Reorg detection and healing for chain-backed sources, and the block coverage that enables it.

Every RPC ingest records the blocks it read, with their hashes, in ``raw.block_coverage``
(:func:`record_coverage`). Before writing a new window, :func:`heal_reorg` compares the newest
``lookback`` recorded hashes with the chain's: from the first block that differs (the fork point)
to the newest recorded block, every row the source wrote is replaced by what the chain holds now,
and the coverage with it. Rows are keyed by block number and carry their block hash, so no row of
an orphaned block survives. With ``chain.confirmations`` deeper than any reorg, nothing is found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from kimera.schema import BLOCK_COVERAGE, RAW_TABLES
from pipelines.sources.base import ReorgAwareSource
from pipelines.warehouse import ensure_raw_schema, replace_where, replace_window

log = logging.getLogger(__name__)


@dataclass
class Healed:
    """A reorg found and repaired: blocks ``fork..last`` were re-read."""

    dataset: str
    fork: int
    last: int
    rows: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        counts = ", ".join(f"{n} rows of raw.{t}" for t, n in self.rows.items())
        return f"reorg from block {self.fork}: blocks {self.fork}..{self.last} re-read ({counts})"


def record_coverage(
    con: duckdb.DuckDBPyConnection, source: ReorgAwareSource, start: datetime, end: datetime
) -> int:
    """Record the blocks ``source`` read for ``[start, end)`` (call after writing the window's rows)."""
    rows = source.coverage(start, end)
    scope = {"chain": [source.chain()], "dataset": [source.dataset]}
    return replace_window(con, BLOCK_COVERAGE, start, end, rows, scope=scope)


def _stored(con: duckdb.DuckDBPyConnection, source: ReorgAwareSource, limit: int) -> list[tuple[int, str]]:
    ensure_raw_schema(con, [BLOCK_COVERAGE])
    return con.execute(
        "SELECT block_number, block_hash FROM raw.block_coverage WHERE chain = ? AND dataset = ? "
        "ORDER BY block_number DESC LIMIT ?",
        [source.chain(), source.dataset, limit],
    ).fetchall()


def find_fork(
    con: duckdb.DuckDBPyConnection, source: ReorgAwareSource, lookback: int
) -> tuple[int, int] | None:
    """(fork block, newest recorded block) when recorded hashes differ from the chain's, else None.

    Looks ``lookback`` blocks back, and further (x4 each time) while even the oldest one checked
    differs, so a deep reorg is followed to its fork point.
    """
    limit = lookback
    while True:
        stored = _stored(con, source, limit)
        if not stored:
            return None
        canonical = source.canonical_hashes([n for n, _ in stored])
        differ = [n for n, h in stored if canonical.get(n) != h]
        if not differ:
            return None
        oldest = stored[-1][0]
        if min(differ) > oldest or len(stored) < limit:
            return min(differ), stored[0][0]
        limit *= 4


def heal_reorg(con: duckdb.DuckDBPyConnection, source: ReorgAwareSource, lookback: int) -> Healed | None:
    """Find a reorg in what ``source`` stored and replace every row from the fork point on."""
    found = find_fork(con, source, lookback)
    if found is None:
        return None
    fork, last = found
    chain = source.chain()
    healed = Healed(source.dataset, fork, last)
    canonical = source.canonical_hashes(list(range(fork, last + 1)))
    top = max((n for n in canonical), default=fork - 1)  # the chain may now be shorter
    for name in source.tables:
        table = RAW_TABLES[name]
        rows = source.rows_between(name, fork, top) if top >= fork else table.empty()
        where, params = '"chain" = ? AND "block_number" BETWEEN ? AND ?', [chain, fork, last]
        for column, values in source.heal_scope(name).items():
            where += f' AND "{column}" IN ({", ".join("?" for _ in values)})'
            params += list(values)
        healed.rows[name] = replace_where(con, table, where, params, rows)
    # coverage last: if anything above failed, the next run finds the same fork and heals again
    replace_where(
        con,
        BLOCK_COVERAGE,
        '"chain" = ? AND "dataset" = ? AND "block_number" BETWEEN ? AND ?',
        [chain, source.dataset, fork, last],
        source.coverage_between(fork, top) if top >= fork else BLOCK_COVERAGE.empty(),
    )
    if top < last:
        log.warning(
            "%s: blocks %d..%d are no longer on the chain; re-run the windows that held them",
            chain,
            top + 1,
            last,
        )
    log.warning("%s %s: %s", chain, source.dataset, healed)
    return healed


def table_scope(source: ReorgAwareSource, table: str) -> dict[str, list[str]]:
    """What of ``table`` a window write by ``source`` replaces: its chain (and pools or tokens)."""
    return {"chain": [source.chain()], **source.heal_scope(table)}


def sync_window(
    con: duckdb.DuckDBPyConnection,
    source: ReorgAwareSource,
    start: datetime,
    end: datetime,
    lookback: int,
    tables: tuple[str, ...] | None = None,
) -> tuple[dict[str, int], Healed | None]:
    """Heal any reorg, then replace ``[start, end)`` of the source's tables and record its coverage.

    Everything is read before anything is written, so a source that fails leaves the window as it
    was. Returns rows written per table and the heal, if one was needed.
    """
    healed = heal_reorg(con, source, lookback)
    names = tables or source.tables
    window = source.window_blocks(start, end)
    fetched = {name: source.rows_between(name, window.start, window.stop - 1) for name in names}
    written = {
        name: replace_window(con, RAW_TABLES[name], start, end, rows, scope=table_scope(source, name))
        for name, rows in fetched.items()
    }
    if set(names) == set(source.tables):
        record_coverage(con, source, start, end)
    return written, healed
