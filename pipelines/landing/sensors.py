"""The landing sensor: asks for a load run when `kimera stream` has landed complete files.

Each request covers every pending file up to the newest one (its run key), so a file is requested
once; the loader's ledger makes loading exactly-once even if a run is retried. Files that a failed
run left behind are requested again after ``RETRY_AFTER_S``.
"""

from __future__ import annotations

import time

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from kimera.settings import get_settings
from pipelines.landing.files import pending
from pipelines.landing.jobs import load_landed_job

RETRY_AFTER_S = 600


@sensor(job=load_landed_job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def landing_sensor(context: SensorEvaluationContext):
    files = pending(get_settings().landing_dir)
    if not files:
        return SkipReason("no landed files waiting")
    newest = files[-1]
    run_key = f"landed:{newest.key}"
    if context.cursor == newest.key:  # requested before and still waiting: a failed or queued run
        oldest_age = time.time() - files[0].path.stat().st_mtime
        if oldest_age < RETRY_AFTER_S:
            return SkipReason(f"{len(files)} landed file(s) already requested")
        run_key += f":retry:{int(time.time() // RETRY_AFTER_S)}"
    context.update_cursor(newest.key)
    return RunRequest(
        run_key=run_key,
        run_config={"ops": {"load_landed_files": {"config": {"up_to": newest.ulid}}}},
        tags={"kimera/landed_files": str(len(files))},
    )
