"""The daily retrain: the ML training job for the day that just ended (off until switched on)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from kimera.config import KimeraConfig
from pipelines.serving.jobs import TRAINING_JOB

RETRAIN_SCHEDULE = "daily_retrain"


def retrain_schedule(config: KimeraConfig) -> dg.ScheduleDefinition:
    start = config.start

    @dg.schedule(
        name=RETRAIN_SCHEDULE,
        cron_schedule=config.serving.retrain.cron,
        job_name=TRAINING_JOB,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Retrain every model on the data up to the day that just ended (serving.retrain.cron); "
        "the promotion sensor then judges the new ensemble.",
    )
    def daily_retrain(context: dg.ScheduleEvaluationContext):
        day = (context.scheduled_execution_time - timedelta(days=1)).date()
        if day < start:
            return dg.SkipReason(f"{day} is before the config's start {start}: no data to train on")
        return dg.RunRequest(
            run_key=f"daily-retrain-{day}", partition_key=day.isoformat(), tags={"trigger": "schedule"}
        )

    return daily_retrain
