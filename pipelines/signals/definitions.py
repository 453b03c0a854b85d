"""The signals domain's definitions: predictions and their push, the job, its schedule and resources.

The ``warehouse`` resource is bound by ``pipelines/definitions.py``; ``model_server`` and
``execution`` are bound here from ``serving.signals`` in the config.
"""

from __future__ import annotations

import dagster as dg

from kimera.config import KimeraConfig
from pipelines.resources import location_config
from pipelines.signals.assets import SIGNALS_ASSETS
from pipelines.signals.jobs import predict_job, signals_job, signals_schedule
from pipelines.signals.resources import signal_resources


def build_defs(config: KimeraConfig) -> dg.Definitions:
    return dg.Definitions(
        assets=SIGNALS_ASSETS,
        jobs=[signals_job, predict_job],
        schedules=[signals_schedule(config)],
        resources=signal_resources(config),
    )


defs = build_defs(location_config())
