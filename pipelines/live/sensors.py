"""A sensor observing ``kimera live`` every 30 s: the ``live/loop`` asset's observations."""

from __future__ import annotations

import time

import dagster as dg

from kimera.settings import get_settings
from pipelines.live.status import read_status, status_metadata

LOOP = dg.AssetKey(["live", "loop"])
loop_asset = dg.AssetSpec(
    LOOP,
    group_name="live",
    description="The real-time loop (`kimera live`): heartbeat, lag, bars traded, latency per stage. "
    "Observed from KIMERA_HOME/live/status.json; retraining and promotion stay Dagster jobs, and the "
    "loop hot-swaps the promoted model.",
)


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def live_loop_sensor(context: dg.SensorEvaluationContext):
    path = get_settings().home_dir / "live" / "status.json"
    status = read_status(path)
    if status is None:
        return dg.SkipReason("kimera live has not run in this KIMERA_HOME")
    age = time.time() - path.stat().st_mtime
    context.update_cursor(status["heartbeat"])
    metadata = status_metadata(status, age)
    return dg.SensorResult(asset_events=[dg.AssetObservation(asset_key=LOOP, metadata=metadata)])
