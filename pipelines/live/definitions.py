"""The live domain: the loop as an observed asset (``live/loop``) and the sensor observing it."""

from __future__ import annotations

from dagster import Definitions

from pipelines.live.sensors import live_loop_sensor, loop_asset

defs = Definitions(assets=[loop_asset], sensors=[live_loop_sensor])
