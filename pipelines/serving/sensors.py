"""Sensors: retrain on new data or drift; judge a candidate once it has bars out of sample.

Both read the warehouse read-only; while a run holds DuckDB's write lock they skip the tick.
Both are off until switched on (the simulator's data lies in the past of the wall clock).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from kimera.config import load_config
from kimera.settings import get_settings
from pipelines.serving.jobs import SERVING_JOB, TRAINING_JOB

RETRAIN_SENSOR = "retrain_sensor"
PROMOTION_SENSOR = "promotion_sensor"


class WarehouseBusy(RuntimeError):
    pass


@contextmanager
def read_only_warehouse(settings) -> Iterator:
    import duckdb

    if not settings.warehouse_path.is_file():
        raise WarehouseBusy(f"no warehouse at {settings.warehouse_path} yet")
    try:
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    except duckdb.IOException as exc:
        raise WarehouseBusy(f"the warehouse is locked by a writer ({exc}); trying again next tick") from None
    try:
        yield con
    finally:
        con.close()


@dg.sensor(
    name=RETRAIN_SENSOR,
    job_name=TRAINING_JOB,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Retrains when serving.retrain.min_new_bars labelled bars per asset landed since the newest "
    "model's training data, or when the served model's live log loss exceeds its walk-forward log loss "
    "by serving.retrain.max_log_loss_increase.",
)
def retrain_sensor(context: dg.SensorEvaluationContext):
    from pipelines.serving.retrain import retrain_check

    settings = get_settings()
    config = load_config(settings=settings)
    try:
        with read_only_warehouse(settings) as con:
            check = retrain_check(con, settings, config)
    except WarehouseBusy as exc:
        return dg.SkipReason(str(exc))
    if not check.reasons:
        return dg.SkipReason(check.summary())
    context.log.info(check.summary())
    return dg.RunRequest(
        run_key=f"retrain-{check.partition}-{check.trigger}-{check.served}",
        partition_key=check.partition,
        tags={"trigger": check.trigger, "reason": check.summary()[:250]},
    )


@dg.sensor(
    name=PROMOTION_SENSOR,
    job_name=SERVING_JOB,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the promotion gate (and the bento) when a trained candidate has enough bars out of "
    "sample for both it and the served model, or when nothing is served yet.",
)
def promotion_sensor(context: dg.SensorEvaluationContext):
    from pipelines.serving.gate import plan

    settings = get_settings()
    config = load_config(settings=settings)
    try:
        with read_only_warehouse(settings) as con:
            the_plan = plan(con, settings, config)
    except WarehouseBusy as exc:
        return dg.SkipReason(str(exc))
    ready = the_plan.ready
    if ready is None:
        waiting = the_plan.waiting(config.serving.promotion.min_bars)
        return dg.SkipReason("; ".join(waiting) if waiting else "no new candidate")
    return dg.RunRequest(run_key=f"judge-{ready.stored.tag}", tags={"candidate": ready.stored.tag})
