"""``kimera demo`` end to end as a user runs it: the paper and report stages, the printed summary, and
the servers the demo starts stopped when it ends or is interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.app.demo.run import STAGE_NAMES
from kimera.settings import DAGSTER_TUNING, Settings, get_settings
from tests.conftest import REPO_ROOT
from tests.execution.conftest import SERVICE_KEY_SECRET, write_config
from tests.support.net import free_port


@pytest.fixture(autouse=True)
def _restore_dagster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo exports Dagster's settings into the process; put them back after each test."""
    for key in DAGSTER_TUNING:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def ports(kimera_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """The repository's config with the execution service and paper venues on free ports."""
    service, paper = free_port(), free_port()
    config = write_config(
        tmp_path / "kimera.yaml",
        {"port": service, "paper": {"url": f"http://127.0.0.1:{paper}", "port": paper}},
    )
    monkeypatch.setenv("KIMERA_CONFIG", str(config))
    # the API key's secret as a user keeps it (the demo would otherwise make one into this process)
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_LOCAL", SERVICE_KEY_SECRET)
    get_settings.cache_clear()  # kimera_home read the settings before
    return service, paper


def _answers(port: int, path: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_report_is_the_last_stage_and_the_paper_stage_comes_before_it() -> None:
    assert STAGE_NAMES[-1] == "report"
    assert STAGE_NAMES.index("paper") < STAGE_NAMES.index("report")
    assert STAGE_NAMES.index("features") < STAGE_NAMES.index("paper")


@pytest.mark.slow
def test_the_demo_ends_with_a_report_and_a_summary_and_stops_its_servers(
    kimera_home: Settings, ports: tuple[int, int]
) -> None:
    service_port, paper_port = ports
    result = CliRunner().invoke(main, ["demo", "--days", "1"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"paper: execution service on http://127.0.0.1:{service_port}" in out
    report = kimera_home.report_dir / "index.html"
    assert f"report: {report.as_uri()}" in out and report.exists()
    assert "`kimera execute` carries on from its journal" in out
    assert re.search(
        r"stage times: ingest \d+ s, features \d+ s, train \d+ s, paper \d+ s, .*report \d+ s", out
    )
    # Nothing trained yet on one day: the report says so rather than drawing something.
    assert "not in the report (models)" in out
    assert "prices.png" in report.read_text() and "features.png" in report.read_text()
    # The demo's service trades its own accounts (kimera/app/demo/accounts.py): a fund with two
    # strategies, copied by three followers; on one day nothing is trained, so none has traded yet.
    assert "accounts and followers (GET /accounts" in out
    for who in (
        "account fund (ACTIVE)",
        "strategy fund_btc of fund",
        "strategy fund_eth of fund",
        "follower copy_equity of account fund (equity_fraction)",
        "follower copy_fixed of account fund (fixed_notional)",
        "follower copy_risk of account fund (risk_budget)",
    ):
        assert re.search(rf"{re.escape(who)}: return .*, 0 orders, 0 fills", out), who
    assert "Accounts and followers" in report.read_text()
    # the demo's service runs the cross-chain desk on both simulated chains' ETH pools: its line and section
    assert re.search(
        r"cross-chain arbitrage \(bsc vs ethereum, paper\): \d+ looks, \d+ opportunities seen", out
    )
    assert "Cross-chain arbitrage" in report.read_text()
    # The journal exists (the service ran) and the servers are gone with the demo.
    assert kimera_home.journal_path.exists()
    assert not _answers(service_port, "/healthz") and not _answers(paper_port, "/ping")


# The demo with its paper stage and then a long stage in place of training, as a user's process.
_DEMO_WITH_A_LONG_STAGE = """
import faulthandler, signal, time, kimera.app.demo.run as demo
faulthandler.register(signal.SIGUSR1, all_threads=True)  # where each thread is, if the stop hangs
# Ctrl-C at a terminal: a test run started as a shell's background job (`.ci/run &`) hands its
# children SIGINT ignored, and Python then keeps it ignored; the demo at a terminal never has that
signal.signal(signal.SIGINT, signal.default_int_handler)
from kimera.app.demo.paper_trading import paper_stage
def long_stage(ctx):
    print("long stage running", flush=True)
    time.sleep(600)
    return []
demo.STAGES = (demo.Stage("paper", "paper", paper_stage), demo.Stage("long", "long", long_stage))
demo.STAGE_NAMES = ("paper", "long")
demo.run_demo(days=1)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_the_demo_stops_the_servers_it_started(
    kimera_home: Settings, ports: tuple[int, int], how: signal.Signals
) -> None:
    service_port, paper_port = ports
    demo = subprocess.Popen(
        [sys.executable, "-c", _DEMO_WITH_A_LONG_STAGE],
        cwd=REPO_ROOT,
        # no API key secret: the demo makes one for its run, or `kimera execute` would not start
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("KIMERA_SECRET_")},
            "PYTHONPATH": str(REPO_ROOT),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = ""
        while "long stage running" not in seen:
            line = demo.stdout.readline()
            assert line, f"the demo ended early:\n{seen}"
            seen += line
        assert _answers(service_port, "/healthz") and _answers(paper_port, "/ping")
        demo.send_signal(
            how
        )  # a terminal's Ctrl-C reaches the demo's process group; the servers have their own
        try:
            rest, _ = demo.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            demo.send_signal(signal.SIGUSR1)  # every thread's stack, to see what the stop waits on
            time.sleep(2)
            demo.kill()
            stacks, _ = demo.communicate()
            pytest.fail(f"the demo did not stop within 60 s of {how.name}; its threads:\n{stacks}")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 130, seen + rest
    assert "Servers it started are stopped" in rest
    deadline = time.monotonic() + 5
    while _answers(service_port, "/healthz") or _answers(paper_port, "/ping"):
        assert time.monotonic() < deadline, "a server the demo started outlived it"
        time.sleep(0.2)
