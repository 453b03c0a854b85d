"""Dagster sees the loop: the sensor turns kimera live's status into observations of live/loop."""

from __future__ import annotations

import json
import os
import time

import dagster as dg

from pipelines.live.sensors import LOOP, live_loop_sensor
from pipelines.live.status import status_metadata

STATUS = {
    "heartbeat": "2026-01-01 12:00:00",
    "feed": "sim",
    "model_tag": "kimera-linear:abc",
    "last_bar": "2026-01-01 12:00:00",
    "lag_s": 0.4,
    "bars_closed": 24,
    "bars_marked": 1,
    "bars_traded": 19,
    "predictions": 40,
    "signals": {"accepted": 38, "queued": 2},
    "latency_ms": {"tick_to_ack": {"p50": 12.5, "p99": 80.25, "n": 38}},
}


def test_the_loop_shows_as_observations_with_lag_bars_and_latencies(kimera_home):
    path = kimera_home.home_dir / "live" / "status.json"
    path.parent.mkdir(parents=True)
    defs = dg.Definitions(assets=[], sensors=[live_loop_sensor])
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    assert isinstance(live_loop_sensor(context), dg.SkipReason)  # never ran here

    path.write_text(json.dumps(STATUS))
    result = live_loop_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    (observation,) = result.asset_events
    meta = {k: v.value for k, v in observation.metadata.items()}
    assert observation.asset_key == LOOP
    assert meta["state"] == "running" and meta["bars_closed"] == 24 and meta["bars_marked"] == 1
    assert meta["bars_traded"] == 19
    assert meta["signals_accepted"] == 38 and meta["signals_queued"] == 2
    assert meta["tick_to_ack_p50_ms"] == 12.5 and meta["tick_to_ack_p99_ms"] == 80.25
    assert meta["lag_s"] == 0.4 and meta["model_tag"] == "kimera-linear:abc"

    old = time.time() - 600  # a loop that stopped writing ten minutes ago
    os.utime(path, (old, old))
    result = live_loop_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert {k: v.value for k, v in result.asset_events[0].metadata.items()}["state"] == "stale"


def test_the_status_metadata_is_flat_numbers_the_ui_can_plot():
    meta = status_metadata(STATUS, age_s=3.0)
    assert all(isinstance(v, int | float | str) for v in meta.values())
    assert meta["heartbeat_age_s"] == 3.0


def test_the_code_location_has_the_live_loop_asset_and_sensor(kimera_home):
    import importlib

    import pipelines.definitions
    from pipelines.resources import location_config

    location_config.cache_clear()
    repository = importlib.reload(pipelines.definitions).defs.get_repository_def()
    assert repository.has_sensor_def("live_loop_sensor")
    assert LOOP in repository.asset_graph.get_all_asset_keys()
