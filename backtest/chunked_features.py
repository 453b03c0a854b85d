"""The backtest's online features, computed a chunk of bars at a time instead of bar by bar.

The feature SQL is causal (point in time: ``tests/dbt/test_point_in_time.py``,
``tests/live/test_parity.py``): a bar's row depends only on raw rows before its close. So a
backtest, which holds the whole window's raw rows in the warehouse beforehand, may run dbt's SQL
compiled for a window of ``chunk`` bars once per chunk and hand the loop each bar's row from that
result at the bar's close: the same SQL on the same rows as the live loop's per-bar run, with one
DuckDB round trip per chunk instead of one per bar.

Each chunk's raw rows are copied from the warehouse inside DuckDB (no Python per row), beside the
previous bar's rows that the per-bar buffer also holds; model tables keep ``retention_bars`` before
the chunk, as the per-bar buffer does. ``append`` and ``prune`` do nothing: the loop's events still
flow (the market and the fill model read them) but the features do not need them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from live.features import RAW_TIME_COLUMNS, CompiledModel, OnlineFeatures
from live.sql_window import shift_window


class ChunkedFeatures(OnlineFeatures):
    """``OnlineFeatures`` for a replay of ``[start, end)`` of ``warehouse``, ``chunk`` bars per SQL run
    (``compiled_dir`` must be compiled with ``window_bars=chunk``); ``memory_mb`` caps its DuckDB's
    memory, so the warehouse pages it reads are not all kept cached (they grow with the span)."""

    def __init__(self, compiled_dir: Path, warehouse: Path, start: datetime, end: datetime,
                 retention_bars: int = 400, threads: int = 1, memory_mb: int | None = None) -> None:  # fmt: skip
        super().__init__(compiled_dir, retention_bars, threads)
        if memory_mb is not None:
            self.con.execute(f"set memory_limit = '{int(memory_mb)}MB'")
        import json

        self.chunk = int(json.loads((compiled_dir / "models.json").read_text()).get("window_bars", 1))
        self.start, self.end = start, end
        self.con.execute(f"attach '{warehouse}' as source (read_only)")
        present = {
            r[0]
            for r in self.con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'source' and table_schema = 'raw'"
            ).fetchall()
        }
        self._sources = {t: c for t, c in RAW_TIME_COLUMNS.items() if t in present}
        self._rows: dict[datetime, list[dict[str, Any]]] = {}
        self._chunk_end: datetime | None = None

    def append(self, table: str, rows: pa.Table) -> None:
        """Nothing: each chunk's raw rows come from the warehouse (checked as a feature input only)."""
        if table not in RAW_TIME_COLUMNS:
            raise ValueError(f"raw.{table} is not a feature input; accepted: {sorted(RAW_TIME_COLUMNS)}")

    def prune(self) -> None:
        """Nothing per bar: pruning happens before each chunk."""

    def close_bar(self, bar_time: datetime) -> list[dict[str, Any]]:
        if (bar_time - self.anchor) % self.bar:
            raise ValueError(f"{bar_time} is not a bar close on the {self.bar} grid")
        if self.last_bar is not None and bar_time <= self.last_bar:
            raise ValueError(f"bar {bar_time} is not after the last closed bar {self.last_bar}")
        if self._chunk_end is None or bar_time > self._chunk_end:
            self._run_chunk(bar_time - self.bar)
        self.last_bar = bar_time
        return self._rows.pop(bar_time, [])

    def _run_chunk(self, window_start: datetime) -> None:
        """Compute bars ``(window_start, window_start + chunk * bar]`` in one transaction."""
        window_end = window_start + self.chunk * self.bar
        self._prune(window_start)  # as the per-bar buffer before this window's first bar
        shift = window_start - self.anchor
        statements = []
        for table, column in self._sources.items():
            statements.append(
                f"insert into raw.{table} by name select * from source.raw.{table} "
                f"where {column} >= {_ts(max(window_start, self.start))} and {column} < {_ts(min(window_end, self.end))}"
            )
        statements += [self._chunk_statements(m, shift, window_end) for m in self.models]
        self.con.execute("begin")
        try:
            self.con.execute(";\n".join(statements))
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        cursor = self.con.execute(
            f"select * from {self.target} where bar_time > ? and bar_time <= ? order by bar_time, asset",
            [window_start, window_end],
        )
        names = [d[0] for d in cursor.description]  # type: ignore[union-attr]
        self._rows = {}
        for r in cursor.fetchall():
            row = dict(zip(names, r, strict=True))
            self._rows.setdefault(row["bar_time"], []).append(row)
        self._chunk_end = window_end

    def _chunk_statements(self, model: CompiledModel, shift: timedelta, window_end: datetime) -> str:
        """dbt's replace_window for one model over the chunk's window."""
        start = self.anchor + shift - model.widen_bars * self.bar
        column = model.window_column
        where = f"{column} > {_ts(start)}"
        if not model.window_to_newest:
            where += f" and {column} <= {_ts(window_end)}"
        return (
            f"delete from {model.relation} where {where};\n"
            f"insert into {model.relation} by name ({shift_window(model.sql, shift)})"
        )


def _ts(moment: datetime) -> str:
    return f"timestamp '{moment.isoformat(sep=' ')}'"
