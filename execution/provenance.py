"""Tracing an order back to the data it came from: order -> parent -> signal -> prediction -> partitions.

Every child order carries its ``signal_id``, ``model_tag`` and ``prediction_id``; the signal (as
received, in the journal) carries the ``feature_time`` and ``horizon``. From the feature time and
the features' bar and look-back (``features.bar``, ``features.lookback_bars``) follow the feature
row it was computed from (``marts.features`` at ``(asset, bar_time)``) and the hourly raw-data
partitions that row depends on. Each step names the audit entries that recorded it, with their
hashes, so a trace can be checked against the chain (``kimera audit verify``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from execution import audit
from execution.journal import Journal
from kimera.config import TIMEFRAME_SECONDS, KimeraConfig

PARTITION_FORMAT = "%Y-%m-%d-%H:%M"  # Dagster's HourlyPartitionsDefinition keys


class NoSuchOrder(LookupError):
    pass


def _rows(journal: Journal, sql: str, params: tuple) -> list[dict[str, Any]]:
    conn = journal._connect()
    try:
        cur = conn.cursor()
        cur.execute(journal._sql(sql), params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        conn.close()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def partitions(feature_time: datetime, bar: str, lookback_bars: int) -> dict[str, Any]:
    """The hourly partitions holding the raw data behind a feature row at ``feature_time`` (bar close)."""
    step = timedelta(seconds=TIMEFRAME_SECONDS[bar])
    start = feature_time - step * lookback_bars
    first = start.replace(minute=0, second=0, microsecond=0)
    last = (feature_time - timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    keys, hour = [], first
    while hour <= last:
        keys.append(hour.strftime(PARTITION_FORMAT))
        hour += timedelta(hours=1)
    return {"window": [start.isoformat(), feature_time.isoformat()], "first": keys[0], "last": keys[-1],
            "count": len(keys), "keys": keys}  # fmt: skip


def _prediction_row(warehouse: Path | None, prediction_id: str | None) -> dict[str, Any]:
    """The prediction as the warehouse holds it, when it can be read now."""
    if warehouse is None or prediction_id is None or not warehouse.is_file():
        return {"available": False, "why": "no warehouse here"}
    try:
        import duckdb

        with duckdb.connect(str(warehouse), read_only=True) as con:
            found = con.execute(
                "SELECT * FROM ml.predictions WHERE prediction_id = ?", [prediction_id]
            ).fetchdf()
    except Exception as exc:  # locked by a writer, or no ml.predictions yet
        return {"available": False, "why": f"{type(exc).__name__}: {str(exc)[:160]}"}
    if found.empty:
        return {"available": False, "why": f"no row with prediction_id {prediction_id!r} in ml.predictions"}
    return {"available": True, "row": json.loads(found.iloc[0].to_json(date_format="iso"))}


def _account_of(journal: Journal, parent_id: str) -> dict[str, Any]:
    """The account, strategy, book and leader signal of an order placed for an account (none: {})."""
    try:
        rows = _rows(journal, "SELECT account, strategy, book, leader_signal_id FROM account_orders WHERE client_order_id = ?", (parent_id,))  # fmt: skip
    except Exception:  # a journal from before accounts has no such table
        return {}
    return dict(rows[0]) if rows else {}


def trace(
    url: str, client_order_id: str, config: KimeraConfig, warehouse: Path | None = None
) -> dict[str, Any]:
    """Everything known about one order, from its fills back to the raw-data partitions."""
    journal = Journal(url)
    orders = _rows(journal, "SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
    if not orders:
        raise NoSuchOrder(client_order_id)
    order = _plain(orders[0])
    events = [_plain(r) for r in _rows(
        journal, "SELECT from_state, to_state, at, reason, filled FROM order_events WHERE client_order_id = ? ORDER BY seq",
        (client_order_id,))]  # fmt: skip
    fills = [_plain(r) for r in _rows(
        journal, "SELECT venue, fill_id, price, amount, fee, at FROM fills WHERE client_order_id = ? ORDER BY at",
        (client_order_id,))]  # fmt: skip
    parent = next(
        iter(_rows(journal, "SELECT * FROM parents WHERE parent_id = ?", (order["parent_id"],))), None
    )
    signal_row = None
    if order.get("signal_id"):
        signal_row = next(
            iter(_rows(journal, "SELECT * FROM signals WHERE signal_id = ?", (order["signal_id"],))), None
        )
    body = json.loads(signal_row["body"]) if signal_row else {}
    refs = [r for r in (client_order_id, order["parent_id"], order.get("signal_id")) if r]
    entries = []
    for ref in refs:
        for e in audit.entries(url, ref=ref):
            entries.append({"seq": e.seq, "kind": e.kind, "ref": e.ref, "hash": e.hash,
                            "intact": e.computed_hash() == e.hash})  # fmt: skip
    entries.sort(key=lambda e: e["seq"])
    provenance: dict[str, Any] = {
        "signal_id": order.get("signal_id"), "model_tag": order.get("model_tag"),
        "prediction_id": order.get("prediction_id"), "feature_time": body.get("feature_time"),
        "horizon": body.get("horizon"), "asset": order["asset"],
    }  # fmt: skip
    provenance.update(_account_of(journal, order["parent_id"]))
    if body.get("feature_time"):
        feature_time = datetime.fromisoformat(str(body["feature_time"]).replace("Z", "+00:00")).replace(
            tzinfo=None
        )
        provenance["feature_row"] = {"table": "marts.features", "asset": order["asset"],
                                     "bar_time": feature_time.isoformat()}  # fmt: skip
        provenance["raw_partitions"] = partitions(
            feature_time, config.features.bar, config.features.lookback_bars
        )
        provenance["prediction"] = _prediction_row(warehouse, order.get("prediction_id"))
    return {
        "order": order,
        "events": events,
        "fills": fills,
        "parent": None if parent is None else _plain(parent),
        "signal": body or None,
        "decision": None
        if signal_row is None
        else {k: signal_row[k] for k in ("outcome", "detail", "received_at")},
        "provenance": provenance,
        "audit": entries,
    }
