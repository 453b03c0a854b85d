"""The execution service's alerts reach a local receiver: fills, refusals and the kill switch."""

from __future__ import annotations

import json

import pytest
import yaml

from execution.killswitch import SwitchState
from kimera.config import load_config
from kimera.settings import get_settings
from tests.execution.conftest import signal
from tests.execution.test_provenance_and_costs import settle
from tests.support.alert_receiver import alert_receiver


@pytest.fixture
async def alerting_service(exec_env, paper, monkeypatch):
    from execution.service import ExecutionService

    path, _ = exec_env
    with alert_receiver() as receiver:
        data = yaml.safe_load(path.read_text())
        data["alerts"] = {"webhooks": [{"url": f"{receiver.url}/hook"}], "backoff_base_s": 0.05}
        path.write_text(yaml.safe_dump(data))
        monkeypatch.setenv("KIMERA_CONFIG", str(path))
        monkeypatch.setenv("KIMERA_SECRET_ALERTS_SIGNING_KEY", "service-alerts-key-123456")
        get_settings.cache_clear()
        svc = ExecutionService(load_config(path), get_settings())
        await svc.start()
        try:
            yield svc, receiver
        finally:
            await svc.stop()


def _events(receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests]


async def test_fills_a_kill_switch_and_its_refusal_are_alerted(alerting_service):
    service, receiver = alerting_service
    await service.handle_signal(signal(1))
    await settle(service)
    fills = [f for o in service.oms.orders.values() for f in o.fill_ids]
    assert fills, "the signal traded"
    assert service.alerts.sender.flush(30)
    sent = [e for e in _events(receiver) if e["event"] == "fill"]
    assert len(sent) == len(fills) and {e["details"]["signal_id"] for e in sent} == {"sig-1"}
    await service.set_kill_switch(SwitchState.HALTED, "maintenance", cancel_open=False)
    answer = await service.handle_signal(signal(2, forecast=-0.004))
    assert answer["outcome"] == "refused"
    assert service.alerts.sender.flush(30)
    events = _events(receiver)
    switch = next(e for e in events if e["event"] == "kill_switch")
    assert switch["details"] == {"state": "HALTED", "reason": "maintenance"}
    refusal = next(e for e in events if e["event"] == "refusal")
    assert refusal["details"]["reason"] == "kill_switch"
    assert all(r.headers["x-kimera-signature"].startswith("sha256=") for r in receiver.requests)
