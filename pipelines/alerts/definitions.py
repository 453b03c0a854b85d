"""The alerts domain's definitions: its three sensors (on by default when a receiver is configured)."""

from __future__ import annotations

import dagster as dg

from kimera.config import KimeraConfig
from pipelines.alerts.sensors import build_alert_sensors
from pipelines.resources import location_config


def build_defs(config: KimeraConfig) -> dg.Definitions:
    return dg.Definitions(sensors=build_alert_sensors(config))


defs = build_defs(location_config())
