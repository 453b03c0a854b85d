"""The loop's predictions reach the warehouse through the landing folder, each file loaded once."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from live.landing import land_predictions
from live.model import Prediction, prediction_id
from live.trader import Decision
from pipelines.landing.files import pending
from pipelines.landing.load import load_pending

T = datetime(2026, 1, 2, 5)


def decision(asset: str, traded: bool) -> Decision:
    p = Prediction(
        prediction_id("kimera-linear:x", asset, T), "kimera-linear:x", asset, T, 1, 0.001, -0.01, 0.012, 0.55
    )
    stages = {
        "watermark": 10.0,
        "features_start": 10.01,
        "features_done": 10.2,
        "predicted": 10.201,
        "queued": 10.203,
    }
    return Decision(p, traded, None if traded else "stale model", stages)


def test_predictions_land_and_load_exactly_once_with_their_stage_latencies(kimera_home):
    landing = kimera_home.landing_dir
    path = land_predictions(
        landing, [decision("BTC", True), decision("ETH", False)], T + timedelta(seconds=1)
    )
    assert path is not None and [f.path for f in pending(landing)] == [path]
    assert land_predictions(landing, [], T) is None

    with duckdb.connect(str(kimera_home.warehouse_path)) as con:
        first = load_pending(con, landing)
        again = load_pending(con, landing)
        rows = con.execute(
            "select asset, traded, reason, round(features_ms, 6), round(model_ms, 6), round(queue_ms, 6) "
            "from raw.live_predictions order by asset"
        ).fetchall()
    assert first.rows == {"live_predictions": 2} and again.files == 0
    assert rows == [("BTC", True, None, 200.0, 1.0, 2.0), ("ETH", False, "stale model", 200.0, 1.0, 2.0)]
