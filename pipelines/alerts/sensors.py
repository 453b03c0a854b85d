"""Alert sensors: a failed run (any job of this code location), drift, a lagging live loop.

They are switched on by default only when ``alerts:`` names a receiver; each reads the config and
sends through ``kimera.alerts`` before its tick ends.
"""

import time

import dagster as dg
from dagster import RunFailureSensorContext, SensorEvaluationContext

from kimera.alerts import Alert
from kimera.config import KimeraConfig, load_config
from kimera.settings import get_settings
from pipelines.alerts.checks import drift_alert, loop_lag_alert
from pipelines.alerts.deliver import deliver


def run_failed_alert(job: str, run_id: str, message: str, now: float) -> Alert:
    return Alert("run_failed", f"Dagster run of {job} failed", now, {"job": job, "run_id": run_id,
                                                                       "error": message[:500]})  # fmt: skip


def build_alert_sensors(config: KimeraConfig) -> list:
    status = dg.DefaultSensorStatus.RUNNING if config.alerts.enabled else dg.DefaultSensorStatus.STOPPED

    @dg.run_failure_sensor(name="alert_on_run_failure", default_status=status,
                           description="Alerts (alerts: in kimera.yaml) when a run of this code location fails.")  # fmt: skip
    def alert_on_run_failure(context: RunFailureSensorContext):
        run = context.dagster_run
        message = context.failure_event.message or "no message"
        settings = get_settings()
        deliver([run_failed_alert(run.job_name, run.run_id, message, time.time())], load_config(settings=settings),
                settings)  # fmt: skip

    @dg.sensor(name="alert_on_drift", minimum_interval_seconds=600, default_status=status,
               description="Alerts once per episode when the served model's live log loss drifts from its "
               "walk-forward log loss (serving.retrain.max_log_loss_increase).")  # fmt: skip
    def alert_on_drift(context: SensorEvaluationContext):
        from pipelines.serving.retrain import retrain_check
        from pipelines.serving.sensors import WarehouseBusy, read_only_warehouse

        settings = get_settings()
        cfg = load_config(settings=settings)
        try:
            with read_only_warehouse(settings) as con:
                check = retrain_check(con, settings, cfg)
        except WarehouseBusy as exc:
            return dg.SkipReason(str(exc))
        state, alert = drift_alert(check.served, check.live_log_loss, check.expected_log_loss, check.live_bars,
                                   cfg, context.cursor, time.time())  # fmt: skip
        context.update_cursor(state)
        if alert is not None:
            deliver([alert], cfg, settings)
        return dg.SkipReason(f"drift state {state}" + (": alerted" if alert else ""))

    @dg.sensor(name="alert_on_loop_lag", minimum_interval_seconds=30, default_status=status,
               description="Alerts once per episode when kimera live lags (alerts.loop_lag_s) or stops writing "
               "its heartbeat.")  # fmt: skip
    def alert_on_loop_lag(context: SensorEvaluationContext):
        from pipelines.live.status import read_status

        settings = get_settings()
        cfg = load_config(settings=settings)
        path = settings.home_dir / "live" / "status.json"
        status = read_status(path)
        now = time.time()
        age = now - path.stat().st_mtime if status is not None else 0.0
        state, alert = loop_lag_alert(status, age, cfg, context.cursor, now)
        context.update_cursor(state)
        if alert is not None:
            deliver([alert], cfg, settings)
        return dg.SkipReason(f"live loop {state}" + (": alerted" if alert else ""))

    return [alert_on_run_failure, alert_on_drift, alert_on_loop_lag]
