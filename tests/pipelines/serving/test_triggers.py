"""Retraining triggers (new data, live error drift), the promotion sensor and the daily schedule."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import duckdb
import numpy as np
import pandas as pd

from models.promoted import read_promoted
from tests.pipelines.serving.conftest import T1, T2, run_gate


def _live_predictions(gate_home, stored, flip_after: datetime | None = None) -> int:
    """The served model's real predictions for every bar after its training data, stored in
    ml.predictions; with ``flip_after`` the market turns: realised returns change sign from then on."""
    from models.marts import read_marts
    from models.registry import load_model
    from models.windows import make_windows
    from pipelines.signals.store import write_predictions

    settings = gate_home.settings
    with duckdb.connect(str(settings.warehouse_path)) as con:
        if flip_after is not None:
            con.execute(
                "UPDATE marts.labels SET fwd_ret_1 = -fwd_ret_1, fwd_dir_1 = 1 - fwd_dir_1 WHERE bar_time >= ?",
                [flip_after],
            )
        model = load_model(stored.tag, settings)
        windows = make_windows(read_marts(con, 1, list(model.feature_names)), model.seq_len)
        after = windows.take(
            np.flatnonzero(windows.bar_time >= np.datetime64(stored.metadata["data_window"]["end"]))
        )
        forecast = model.predict_windows(after)
        rows = pd.DataFrame(
            {
                "prediction_id": [f"p{i}" for i in range(len(after))],
                "model_tag": stored.tag,
                "asset": after.asset.astype(str),
                "feature_time": pd.to_datetime(after.bar_time),
                "horizon": 1,
                "forecast": forecast.ret,
                "lower": forecast.lower,
                "upper": forecast.upper,
                "p_up": forecast.p_up,
                "created_at": datetime(2026, 3, 1),
            }
        )
        return write_predictions(con, rows)


def _check(gate_home):
    from kimera.config import load_config
    from pipelines.serving.retrain import retrain_check

    with duckdb.connect(str(gate_home.settings.warehouse_path), read_only=True) as con:
        return retrain_check(
            con, gate_home.settings, load_config(settings=gate_home.settings), now=datetime(2026, 6, 1)
        )


def test_enough_new_data_since_the_newest_model_asks_for_a_retrain(gate_home) -> None:
    gate_home.configure(retrain={"min_new_bars": 168, "drift_bars": 48})
    served = gate_home.save(T1)
    run_gate()
    check = _check(gate_home)
    assert check.served == served.tag and min(check.new_bars.values()) >= 168
    assert check.reasons[0].startswith("new_data: ") and check.partition == "2026-02-11"
    gate_home.save(T2 + pd.Timedelta(days=12))  # a newer model (even one still waiting) has seen that data
    assert not _check(gate_home).reasons


def test_live_error_drift_asks_for_a_retrain_and_a_steady_market_does_not(gate_home) -> None:
    gate_home.configure(retrain={"min_new_bars": 100_000, "drift_bars": 96, "max_log_loss_increase": 0.03})
    served = gate_home.save(T1)  # its walk-forward log loss is recorded as 0.69 (metadata)
    run_gate()
    assert _live_predictions(gate_home, served) > 96
    steady = _check(gate_home)
    assert steady.reasons == [] and steady.live_log_loss < steady.expected_log_loss and steady.live_bars == 96
    with duckdb.connect(str(gate_home.settings.warehouse_path)) as con:
        con.execute("DELETE FROM ml.predictions")
    _live_predictions(gate_home, served, flip_after=T1)  # the planted relation turns over
    drifted = _check(gate_home)
    assert drifted.live_log_loss > 0.69 + 0.03
    assert drifted.reasons[0].startswith("drift: live log loss") and drifted.trigger == "drift"


def test_retrain_sensor_requests_the_training_partition_once_per_trigger(gate_home) -> None:
    from pipelines.serving.sensors import retrain_sensor

    gate_home.configure(retrain={"min_new_bars": 168})
    served = gate_home.save(T1)
    run_gate()
    request = retrain_sensor(dg.build_sensor_context())
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-02-11" and request.tags["trigger"] == "new_data"
    assert request.run_key == f"retrain-2026-02-11-new_data-{served.tag}"
    gate_home.configure(retrain={"min_new_bars": 100_000})
    skip = retrain_sensor(dg.build_sensor_context())
    assert isinstance(skip, dg.SkipReason) and "a retrain needs 100000" in skip.skip_message


def test_promotion_sensor_judges_a_candidate_once_it_has_bars_out_of_sample(gate_home) -> None:
    from pipelines.serving.sensors import promotion_sensor

    first = gate_home.save(T1)
    request = promotion_sensor(dg.build_sensor_context())
    assert isinstance(request, dg.RunRequest) and request.run_key == f"judge-{first.tag}"
    run_gate()
    assert isinstance(promotion_sensor(dg.build_sensor_context()), dg.SkipReason)
    candidate = gate_home.save(T2)
    gate_home.configure(promotion={"min_bars": 5000})
    waiting = promotion_sensor(dg.build_sensor_context())
    assert isinstance(waiting, dg.SkipReason) and candidate.tag in waiting.skip_message
    gate_home.configure(promotion={"min_bars": 24})
    assert promotion_sensor(dg.build_sensor_context()).run_key == f"judge-{candidate.tag}"
    assert read_promoted(gate_home.settings).tag == first.tag  # a sensor only asks; the gate decides


def test_daily_retrain_schedule_trains_the_day_that_just_ended(gate_home) -> None:
    from kimera.config import load_config
    from pipelines.serving.schedules import retrain_schedule

    schedule = retrain_schedule(load_config())
    assert schedule.cron_schedule == "30 0 * * *" and schedule.job_name == "ml_training"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 3, 2, 0, 30))
    request = schedule(context)
    assert request.partition_key == "2026-03-01" and request.run_key == "daily-retrain-2026-03-01"
    early = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 12, 1, 0, 30))
    assert schedule(early).skip_message.startswith("2025-11-30 is before the config's start")
