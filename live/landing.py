"""The loop's predictions land as files; the landing sensor loads each exactly once.

The loop never opens the warehouse (Dagster's DuckDB has one writer). After each bar it writes
the bar's predictions, traded or not, with their stage latencies, as one Parquet file in the
landing folder's layout (``docs/contracts.md``: ``incoming/<table>/<venue>--<first ms>--<last
ms>--<ulid>.parquet``, complete before it appears), for ``raw.live_predictions``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kimera.schema import LIVE_PREDICTIONS, conform
from live.trader import Decision

SOURCE = "live"  # the file name's venue part
_EPOCH = datetime(1970, 1, 1)


def prediction_rows(decisions: list[Decision], created_at: datetime) -> pa.Table:
    rows = []
    for d in decisions:
        p, s = d.prediction, d.stages
        rows.append(
            {
                "prediction_id": p.prediction_id,
                "model_tag": p.model_tag,
                "asset": p.asset,
                "feature_time": p.feature_time,
                "horizon": p.horizon,
                "forecast": p.forecast,
                "lower": p.lower,
                "upper": p.upper,
                "p_up": p.p_up,
                "traded": d.traded,
                "reason": d.reason,
                "created_at": created_at,
                "features_ms": (s["features_done"] - s["watermark"]) * 1e3,
                "model_ms": (s["predicted"] - s["features_done"]) * 1e3,
                "queue_ms": (s["queued"] - s["predicted"]) * 1e3,
            }  # fmt: skip
        )
    return conform(LIVE_PREDICTIONS, pa.Table.from_pylist(rows, schema=LIVE_PREDICTIONS.schema))


def land_predictions(landing_dir: Path, decisions: list[Decision], created_at: datetime) -> Path | None:
    """One complete file of ``decisions`` in ``incoming/live_predictions``; None when there are none."""
    if not decisions:
        return None
    from ulid import ULID

    rows = prediction_rows(decisions, created_at)
    times = [d.prediction.feature_time for d in decisions]
    first, last = (int((t - _EPOCH).total_seconds() * 1000) for t in (min(times), max(times)))
    folder = landing_dir / "incoming" / LIVE_PREDICTIONS.name
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{SOURCE}--{first}--{last}--{ULID()}.parquet"
    temporary = folder / f".{name}.tmp"
    with temporary.open("wb") as sink:
        pq.write_table(rows, sink)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, folder / name)
    return folder / name
