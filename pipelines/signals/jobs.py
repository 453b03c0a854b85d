"""The signals job and its schedule: predictions for the newest bars, then the push (off until switched on)."""

from __future__ import annotations

import dagster as dg

from kimera.config import KimeraConfig

SIGNALS_JOB = "signals"
SIGNALS_SCHEDULE = "hourly_signals"

signals_job = dg.define_asset_job(
    SIGNALS_JOB,
    selection=dg.AssetSelection.groups("signals"),
    description="The served model's predictions for the newest bars (ml.predictions), pushed to execution.",
)


PREDICT_JOB = "signals_predict"

predict_job = dg.define_asset_job(
    PREDICT_JOB,
    selection=dg.AssetSelection.assets(dg.AssetKey(["signals", "predictions"])),
    description="The served model's predictions for the newest bars (ml.predictions), pushed nowhere: "
    "for a replay that sends them bar by bar (the demo's paper day).",
)


def signals_schedule(config: KimeraConfig) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=SIGNALS_SCHEDULE,
        cron_schedule=config.serving.signals.cron,
        job=signals_job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Predict and push after each bar (serving.signals.cron).",
    )
