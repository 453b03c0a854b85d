"""Finding holes in a candle series, and the rows that record them in ``raw.exchange_gaps``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from kimera.schema import EXCHANGE_GAPS
from pipelines.sources.rows import ms_to_ts, table_from_records


@dataclass
class Gap:
    """A run of missing bars (or an outage) ``[first_ms, end_ms)`` and what a backfill recovered.

    For trades the number missing is unknown (0); ``failed`` says the backfill could not run.
    """

    first_ms: int
    end_ms: int
    missing: int
    recovered: int = 0
    failed: bool = False

    @property
    def status(self) -> str:
        if self.failed:
            return "partial" if self.recovered else "missing"
        if self.recovered >= self.missing:
            return "backfilled"
        return "partial" if self.recovered else "missing"


def expected_opens(start_ms: int, stop_ms: int, step_ms: int) -> range:
    """Bar opens on the ``step_ms`` grid inside ``[start_ms, stop_ms)``."""
    first = -(-start_ms // step_ms) * step_ms
    return range(first, max(first, stop_ms), step_ms)


def missing_runs(expected: range, have: Iterable[int]) -> list[Gap]:
    """Contiguous runs of ``expected`` opens absent from ``have``."""
    present = set(have)
    runs: list[Gap] = []
    for open_ms in expected:
        if open_ms in present:
            continue
        if runs and runs[-1].end_ms == open_ms:
            runs[-1].end_ms += expected.step
            runs[-1].missing += 1
        else:
            runs.append(Gap(open_ms, open_ms + expected.step, 1))
    return runs


def gap_rows(
    venue: str,
    symbol: str,
    dataset: str,
    timeframe: str | None,
    gaps: Iterable[Gap],
    origin: str,
    detected_at: datetime,
) -> pa.Table:
    """``raw.exchange_gaps`` rows for ``gaps``."""
    return table_from_records(
        EXCHANGE_GAPS,
        [
            {
                "venue": venue,
                "symbol": symbol,
                "dataset": dataset,
                "timeframe": timeframe,
                "gap_start": ms_to_ts(g.first_ms),
                "gap_end": ms_to_ts(g.end_ms),
                "missing": g.missing if dataset == "ohlcv" else None,
                "recovered": g.recovered,
                "status": g.status,
                "origin": origin,
                "detected_at": detected_at,
            }
            for g in gaps
        ],
    )
