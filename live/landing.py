"""The loop's predictions land as files; the landing sensor loads each exactly once.

The loop never opens the warehouse (Dagster's DuckDB has one writer). After each bar it writes
the bar's predictions, traded or not, with their stage latencies, as one Parquet file in the
landing folder's layout (``docs/contracts.md``: ``incoming/<table>/<venue>--<first ms>--<last
ms>--<ulid>.parquet``, complete before it appears), for ``raw.live_predictions``. A ccxt.pro feed's
trades and book snapshots land the same way (``LandingFeed``), so the warehouse keeps what the loop
saw, late trades included.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kimera.schema import EXCHANGE_TRADES, LIVE_PREDICTIONS, ORDER_BOOK_SNAPSHOTS, conform
from live.trader import Decision

SOURCE = "live"  # the file name's venue part
_EPOCH = datetime(1970, 1, 1)
MARKET_TABLES = {t.name: t for t in (EXCHANGE_TRADES, ORDER_BOOK_SNAPSHOTS)}


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
    times = [d.prediction.feature_time for d in decisions]
    rows = prediction_rows(decisions, created_at)
    return _land(landing_dir, LIVE_PREDICTIONS.name, SOURCE, rows, min(times), max(times))


def land_market_rows(landing_dir: Path, table: str, rows: pa.Table) -> list[Path]:
    """What a market-data feed saw (``raw.exchange_trades`` or ``raw.order_book_snapshots`` rows),
    one complete file per venue in ``incoming/<table>``, as ``kimera stream`` lands them."""
    if table not in MARKET_TABLES:
        raise ValueError(f"raw.{table} is not landed by the loop; accepted: {sorted(MARKET_TABLES)}")
    raw = MARKET_TABLES[table]
    rows = conform(raw, rows)
    paths = []
    for venue in sorted(set(rows.column("venue").to_pylist())):
        mine = rows.filter(pc.equal(rows.column("venue"), venue))
        times = mine.column(raw.time_column).to_pylist()
        paths.append(_land(landing_dir, table, venue, mine, min(times), max(times)))
    return paths


def _land(landing_dir: Path, table: str, venue: str, rows: pa.Table, first_time: datetime,
          last_time: datetime) -> Path:  # fmt: skip
    from ulid import ULID

    first, last = (int((t - _EPOCH).total_seconds() * 1000) for t in (first_time, last_time))
    folder = landing_dir / "incoming" / table
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{venue}--{first}--{last}--{ULID()}.parquet"
    temporary = folder / f".{name}.tmp"
    with temporary.open("wb") as sink:
        pq.write_table(rows, sink)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, folder / name)
    return folder / name
