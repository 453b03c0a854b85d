"""The code location carries the serving and signals domains as `dagster dev` shows them."""

from __future__ import annotations

import dagster as dg


def test_serving_and_signals_show_in_the_code_location(kimera_home) -> None:
    from pipelines.definitions import build_location

    repository = build_location().get_repository_def()
    groups = {k.to_user_string(): a.group_names_by_key[k] for k, a in repository.assets_defs_by_key.items()}
    assert groups["serving/promoted_model"] == groups["serving/bento"] == "serving"
    assert groups["signals/predictions"] == groups["signals/execution_push"] == "signals"
    for key in ("serving/promoted_model", "signals/predictions", "signals/execution_push"):
        assert repository.assets_defs_by_key[dg.AssetKey(key.split("/"))].op.pool == "duckdb", key
    retrain = repository.get_schedule_def("daily_retrain")
    assert retrain.job_name == "ml_training" and retrain.default_status == dg.DefaultScheduleStatus.STOPPED
    assert repository.get_schedule_def("hourly_signals").job_name == "signals"
    for name, job in (("retrain_sensor", "ml_training"), ("promotion_sensor", "serving")):
        sensor = repository.get_sensor_def(name)
        assert sensor.job_name == job and sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert {"model_server", "execution", "warehouse"} <= set(build_location().resources)
