"""The alert sensors against a local receiver: a failed run, a lagging live loop, drift once per episode."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from kimera.config import load_config
from kimera.settings import get_settings
from pipelines.alerts.checks import drift_alert
from pipelines.alerts.sensors import build_alert_sensors
from tests.conftest import REPO_ROOT
from tests.support.alert_receiver import alert_receiver


@pytest.fixture
def alerting(kimera_home, tmp_path, monkeypatch):
    """A config whose alerts go to a local receiver; yields (receiver, config)."""
    with alert_receiver() as receiver:
        path = tmp_path / "kimera.yaml"
        path.write_text((REPO_ROOT / "kimera.yaml").read_text()
                        + f"\nalerts:\n  webhooks: [{{url: '{receiver.url}/hook'}}]\n  loop_lag_s: 120\n")  # fmt: skip
        monkeypatch.setenv("KIMERA_CONFIG", str(path))
        monkeypatch.setenv("KIMERA_SECRET_ALERTS_SIGNING_KEY", "sensor-alerts-key-654321")
        get_settings.cache_clear()
        yield receiver, load_config(path)


def _sensor(config, name: str):
    return next(s for s in build_alert_sensors(config) if s.name == name)


def test_a_failed_run_is_alerted_with_its_job_and_error(alerting):
    receiver, config = alerting

    @dg.op
    def breaks():
        raise RuntimeError("the venue went away")

    @dg.job
    def nightly():
        breaks()

    instance = dg.DagsterInstance.ephemeral()
    result = nightly.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()  # fmt: skip
    _sensor(config, "alert_on_run_failure")(context)
    (got,) = receiver.wait_for(1)
    alert = json.loads(got.body)
    assert alert["event"] == "run_failed" and alert["details"]["job"] == "nightly"
    assert alert["details"]["run_id"] == result.run_id and "breaks" in alert["details"]["error"]


def test_a_lagging_live_loop_is_alerted_once_per_episode(alerting, kimera_home):
    receiver, config = alerting
    sensor = _sensor(config, "alert_on_loop_lag")
    status = kimera_home.home_dir / "live" / "status.json"
    status.parent.mkdir(parents=True)
    cursor = None

    def tick(lag_s: float) -> str:
        nonlocal cursor
        status.write_text(json.dumps({"heartbeat": "2026-04-01T00:00:00", "last_bar": "2026-04-01T00:00:00",
                                      "lag_s": lag_s}))  # fmt: skip
        context = dg.build_sensor_context(cursor=cursor)
        sensor(context)
        cursor = context.cursor
        return cursor

    assert tick(900.0) == "lagging"
    assert tick(950.0) == "lagging"  # still the same episode: no second alert
    assert tick(3.0) == "ok"
    assert tick(600.0) == "lagging"
    receiver.wait_for(2)
    alerts = [json.loads(r.body) for r in receiver.requests]
    assert [(a["event"], a["details"]["lag_s"]) for a in alerts] == [("loop_lag", 900.0), ("loop_lag", 600.0)]
    assert "lag 900 s (limit 120 s)" in alerts[0]["title"]


def test_drift_is_the_retrain_rule_and_is_alerted_once_per_served_model(alerting):
    _, config = alerting
    limit = config.serving.retrain.max_log_loss_increase
    state, alert = drift_alert("lstm:a", 0.69 + limit / 2, 0.69, 50, config, None, 0.0)
    assert (state, alert) == ("ok:lstm:a", None)
    state, alert = drift_alert("lstm:a", 0.69 + limit * 2, 0.69, 50, config, state, 0.0)
    assert state == "drift:lstm:a" and alert.event == "drift" and alert.details["live_bars"] == 50
    assert drift_alert("lstm:a", 0.69 + limit * 3, 0.69, 60, config, state, 0.0) == ("drift:lstm:a", None)
    state, alert = drift_alert(
        "lstm:b", 0.69 + limit * 2, 0.69, 50, config, state, 0.0
    )  # a new model drifts anew
    assert alert is not None and alert.details["model_tag"] == "lstm:b"
    assert drift_alert(None, None, None, 0, config, state, 0.0) == ("ok", None)
