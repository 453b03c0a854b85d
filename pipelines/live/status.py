"""What Dagster shows of ``kimera live``: its status file read as asset metadata.

The loop writes ``KIMERA_HOME/live/status.json`` after every bar (``live.run``). Each sensor tick
turns it into an observation of the ``live/loop`` asset: heartbeat, lag, bars closed, marked and traded,
signals per state and latency percentiles per stage, plotted by the UI over time. A heartbeat
written longer than ``STALE_AFTER_S`` ago is shown as ``state: stale`` (the loop is down or stuck).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STALE_AFTER_S = 120.0


def read_status(path: Path) -> dict[str, Any] | None:
    """The loop's last status, or None when it never ran here."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def status_metadata(status: dict[str, Any], age_s: float) -> dict[str, Any]:
    """Flat metadata for an asset observation (numbers stay numbers so the UI plots them).

    ``age_s``: wall seconds since the loop wrote the status (its file's age): the loop's own
    heartbeat is on its clock, which is simulated in the demo.
    """
    age = float(age_s)
    meta: dict[str, Any] = {
        "state": "running" if age <= STALE_AFTER_S else "stale",
        "heartbeat": status["heartbeat"],
        "heartbeat_age_s": round(age, 3),
        "last_bar": status.get("last_bar") or "none",
        "lag_s": status.get("lag_s") if status.get("lag_s") is not None else -1.0,
        "bars_closed": int(status.get("bars_closed", 0)),
        "bars_marked": int(status.get("bars_marked", 0)),
        "bars_traded": int(status.get("bars_traded", 0)),
        "predictions": int(status.get("predictions", 0)),
        "model_tag": status.get("model_tag") or "none",
    }
    for state, count in (status.get("signals") or {}).items():
        meta[f"signals_{state}"] = int(count)
    for stage, q in (status.get("latency_ms") or {}).items():
        meta[f"{stage}_p50_ms"] = round(float(q["p50"]), 3)
        meta[f"{stage}_p99_ms"] = round(float(q["p99"]), 3)
    return meta
