"""``kimera execute`` stops the paper venue server it started, and says which one it did not start."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest

from tests.execution.conftest import REPO_ROOT, service_env, start_paper, stop, wait_http, write_config
from tests.support.net import free_port


def _execute(tmp_path, paper_port: int, port: int) -> subprocess.Popen:
    config = write_config(
        tmp_path / "kimera.yaml",
        {"port": port, "paper": {"url": f"http://127.0.0.1:{paper_port}", "port": paper_port}},
    )
    env = service_env(
        KIMERA_HOME=str(tmp_path / "home"), KIMERA_CONFIG=str(config), KIMERA_LOG_LEVEL="WARNING"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "kimera", "execute"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow  # two service starts
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_execute_stops_the_paper_server_it_started(tmp_path, how) -> None:
    paper_port, port = free_port(), free_port()
    proc = _execute(tmp_path, paper_port, port)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=60)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the paper venue server should run as a child of kimera execute"
        proc.send_signal(how)
        output, _ = proc.communicate(timeout=30)
    finally:
        stop(proc)
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:  # a failing run must not leave them behind either
        child.kill()
    assert not alive, "kimera execute left its paper venue server running"
    assert "it stops with this service" in output
    assert "stopped the paper venue server it started" in output


def test_a_paper_server_it_did_not_start_is_named_and_left_running(tmp_path) -> None:
    paper_port, port = free_port(), free_port()
    config = write_config(tmp_path / "paper.yaml", {"paper": {"port": paper_port}})
    paper = start_paper(config, paper_port)
    try:
        proc = _execute(tmp_path, paper_port, port)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout=60)
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)
        finally:
            stop(proc)
        assert "using the paper venue server already answering" in output
        assert "keeps running after this service stops" in output
        assert paper.proc.poll() is None  # someone else's server: still up
    finally:
        stop(paper.proc)
