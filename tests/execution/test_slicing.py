"""Orders above the slicing threshold go out in slices: TWAP on a clock, iceberg one after another;
a HALT stops the slices still to come."""

from __future__ import annotations

import asyncio
import time

import pytest

from execution.killswitch import SwitchState
from kimera.config import load_config
from kimera.settings import get_settings
from tests.execution.conftest import FAST, start_paper, stop, write_config


@pytest.fixture
async def sliced(kimera_home, tmp_path, monkeypatch, request):
    from execution.service import ExecutionService
    from tests.support.net import free_port

    port = free_port()
    cfg = {**FAST, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{port}", "port": port},
           "routing": {**FAST["routing"], "slice_threshold_notional": 5_000, "slice_notional": 4_000,
                       "twap_interval_s": 0.4, "slice_mode": request.param}}  # fmt: skip
    path = write_config(tmp_path / "kimera.yaml", cfg)
    paper = start_paper(path, port)
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    svc = ExecutionService(load_config(path), get_settings())
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()
        stop(paper.proc)


def _signal(i: int, forecast: float) -> dict:
    return {"signal_id": f"s{i}", "asset": "ETH", "model_tag": "m", "prediction_id": f"p{i}",
            "feature_time": "2026-04-01T00:00:00", "horizon": 1, "forecast": forecast,
            "lower": forecast - 0.02, "upper": forecast + 0.02, "p_up": 0.6}  # fmt: skip


async def _wait_done(svc, parent_id: str, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if svc.parents[parent_id].status != "working" and not any(
            o.live for o in svc.oms.by_parent.get(parent_id, [])
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(svc.parents[parent_id])


@pytest.mark.parametrize("sliced", ["twap"], indirect=True)
async def test_twap_sends_one_slice_per_interval(sliced):
    answer = await sliced.handle_signal(_signal(1, 0.004))
    parent = sliced.parents[answer["parent_id"]]
    n = len(parent.slices)
    assert n > 2 and all(q * parent.reference_price <= 4_000 * 1.0001 for q in parent.slices)
    # exact sizes on the lot grid, summing to the order: no float residue like 0.09355000000000001
    assert all(len(str(q).rstrip("0").partition(".")[2]) <= 8 for q in parent.slices)
    await _wait_done(sliced, answer["parent_id"])
    orders = sliced.oms.by_parent[answer["parent_id"]]
    firsts = sorted(
        min(o.created_at for o in orders if o.intent_key.split(":")[1] == str(k)) for k in range(n)
    )
    gaps = [b - a for a, b in zip(firsts, firsts[1:], strict=False)]
    assert len(firsts) == n and min(gaps) >= 0.35  # a slice per interval, never two at once


@pytest.mark.parametrize("sliced", ["iceberg"], indirect=True)
async def test_iceberg_shows_the_next_slice_only_when_the_last_is_done(sliced):
    answer = await sliced.handle_signal(_signal(1, 0.004))
    await _wait_done(sliced, answer["parent_id"])
    orders = sorted(sliced.oms.by_parent[answer["parent_id"]], key=lambda o: o.created_at)
    slices = {}
    for o in orders:
        slices.setdefault(int(o.intent_key.split(":")[1]), []).append(o)
    for k in range(1, len(slices)):  # slice k was created after every order of slice k-1 ended
        assert min(o.created_at for o in slices[k]) >= max(o.updated_at for o in slices[k - 1]) - 1e-3


@pytest.mark.parametrize("sliced", ["twap"], indirect=True)
async def test_halt_stops_the_slices_still_to_come(sliced):
    answer = await sliced.handle_signal(_signal(1, 0.004))
    await sliced.set_kill_switch(SwitchState.HALTED, "stop", cancel_open=False)
    await asyncio.sleep(1.5)
    parent = sliced.parents[answer["parent_id"]]
    assert parent.status == "cancelled"
    sent = {o.intent_key.split(":")[1] for o in sliced.oms.by_parent[answer["parent_id"]]}
    assert sent == {"0"}
