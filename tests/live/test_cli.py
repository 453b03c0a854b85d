"""``kimera live`` end to end: the simulator's stream on an accelerated clock, the promoted model,
signed signals to the real execution service; SIGKILLed mid-run and restarted, it never trades a
bar twice."""

from __future__ import annotations

import json
import signal as sig
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from tests.execution.conftest import FAST, REPO_ROOT, free_port, service_env, start_paper, stop, wait_http
from tests.execution.test_crash import _start_service
from tests.live.conftest import FEATURES
from tests.live.test_trading import promote, train
from tests.support.config import shipped_config_data

pytestmark = pytest.mark.slow


def live_command(bars: int) -> list[str]:
    return [sys.executable, "-m", "kimera", "live", "--bars", str(bars), "--speed", "200000"]


def test_kimera_live_trades_every_bar_and_resumes_after_sigkill(kimera_home, tmp_path, batch_home):
    venue_port, service_port = free_port(), free_port()
    data = shipped_config_data()
    data["features"] = {**data["features"], **FEATURES}
    data["execution"] = {**data["execution"], "port": service_port, **FAST,
                         "paper": {**data["execution"].get("paper", {}), **FAST["paper"],
                                   "url": f"http://127.0.0.1:{venue_port}", "port": venue_port}}  # fmt: skip
    data["live"] = {"max_model_age_hours": 1000}
    config_path = tmp_path / "kimera.yaml"
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    model, _, end = train(batch_home, ["ret_1", "rsi", "volume_z", "net_exchange_flow_z"])
    promote(model, end, kimera_home)
    env = service_env(KIMERA_CONFIG=str(config_path), KIMERA_HOME=str(kimera_home.home_dir))
    url = f"http://127.0.0.1:{service_port}"
    status_file = kimera_home.home_dir / "live" / "status.json"
    procs = [start_paper(config_path, venue_port).proc, _start_service(service_port, env)]
    try:
        wait_http(f"{url}/healthz", procs[-1], 60)
        first = subprocess.Popen(live_command(48), cwd=REPO_ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        procs.append(first)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and first.poll() is None:
            if status_file.exists() and json.loads(status_file.read_text())["bars_closed"] >= 24:
                break
            time.sleep(0.2)
        assert first.poll() is None, "kimera live ended before it could be killed"
        first.send_signal(sig.SIGKILL)
        first.wait()
        killed = json.loads(status_file.read_text())
        second = subprocess.run(live_command(48), cwd=REPO_ROOT, env=env, capture_output=True,
                                text=True, timeout=300)  # fmt: skip
        assert second.returncode == 0, second.stderr[-3000:]
    finally:
        for proc in reversed(procs):
            stop(proc)

    status = json.loads(status_file.read_text())
    assert status["bars_closed"] == 48 and status["model_tag"]
    assert "tick_to_ack" in second.stdout and "signals" in second.stdout
    outbox = sqlite3.connect(kimera_home.home_dir / "live" / "outbox.sqlite")
    signals = outbox.execute("select signal_id, asset, bar_time, status from signals").fetchall()
    outbox.close()
    journal = sqlite3.connect(kimera_home.journal_path)
    decided = dict(journal.execute("select signal_id, count(*) from signals group by signal_id").fetchall())
    journal.close()
    # every signal queued reached the service exactly once, and every (asset, bar) was signalled once
    assert signals and {s for s, *_ in signals} == set(decided) and set(decided.values()) == {1}
    assert all(status == "accepted" for *_, status in signals)
    bars = [(a, b) for _, a, b, _ in signals]
    assert len(bars) == len(set(bars))
    assert status["bars_traded"] == len({b for _, b in bars})  # what Dagster shows, over both runs
    # the run that was killed had traded bars; the restart went on after them, through the day's end
    assert killed["signals"] and max(b for _, b in bars) == "2026-01-02 00:00:00"
