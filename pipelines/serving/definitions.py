"""The serving domain's definitions: the promotion gate, the bento, the retrain schedule and sensors.

The ``warehouse`` resource is bound by ``pipelines/definitions.py``; the schedule and the retrain
sensor run the ML domain's ``ml_training`` job.
"""

from __future__ import annotations

import dagster as dg

from kimera.config import KimeraConfig
from pipelines.resources import location_config
from pipelines.serving.assets import SERVING_ASSETS
from pipelines.serving.jobs import serving_job
from pipelines.serving.schedules import retrain_schedule
from pipelines.serving.sensors import promotion_sensor, retrain_sensor


def build_defs(config: KimeraConfig) -> dg.Definitions:
    return dg.Definitions(
        assets=SERVING_ASSETS,
        jobs=[serving_job],
        schedules=[retrain_schedule(config)],
        sensors=[retrain_sensor, promotion_sensor],
    )


defs = build_defs(location_config())
