"""Crash the service at 100 random, seeded points while signals stream in: inside journal commits
(before and after), around venue calls, and at random moments from outside; restart it each time.
No signal may be lost or decided twice, no order lost or duplicated, and the journal must equal the
venues' own record. The copies are forked from a zygote (tests/support/crash_zygote.py) that has
imported the service once, so a restart costs the service's start, not an interpreter's."""

from __future__ import annotations

import random
import signal as sig
import subprocess
import sys
import threading
import time

import psutil
import pytest

from tests.execution.conftest import (
    FAST,
    REPO_ROOT,
    free_port,
    service_env,
    signed_client,
    start_paper,
    stop,
    write_config,
)
from tests.execution.test_crash import LIVE_STATES, _stream, assert_no_order_lost_or_duplicated
from tests.support.crash_zygote import KINDS

POINTS = 100
SIGNALS = 150


class Zygote:
    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crash_zygote", str(port)], cwd=REPO_ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def fork(self, kind: str, k: int) -> psutil.Process:
        self.proc.stdin.write(f"{kind} {k}\n")
        self.proc.stdin.flush()
        return psutil.Process(int(self.proc.stdout.readline()))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _dead(copy: psutil.Process) -> bool:
    try:
        return copy.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _healthy(url: str, copy: psutil.Process, timeout: float) -> bool:
    """Wait until the copy answers /healthz (True) or dies first (False)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _dead(copy):
            return False
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the service did not start within {timeout} s")


def _kill(copy: psutil.Process) -> None:
    """SIGKILL the copy and wait until it is dead (the zygote, its parent, reaps it later)."""
    if not _dead(copy):
        copy.send_signal(sig.SIGKILL)
    deadline = time.monotonic() + 10
    while not _dead(copy) and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.slow
def test_no_order_lost_or_duplicated_across_100_crash_points(kimera_home, tmp_path) -> None:
    rng = random.Random(20261207)
    venue_port, port = free_port(), free_port()
    cfg = {**FAST, "port": port, "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{venue_port}", "port": venue_port},
           "oms": {**FAST["oms"], "ack_wait_s": 0.0}}  # fmt: skip
    path = write_config(tmp_path / "kimera.yaml", cfg)
    env = service_env(
        KIMERA_CONFIG=str(path), KIMERA_HOME=str(kimera_home.home_dir), KIMERA_LOG_LEVEL="WARNING"
    )
    paper = start_paper(
        path, venue_port, faults='{"lost_answer": 0.05, "duplicate_fill": 0.2, "delay_s": 1.5}'
    )
    url = f"http://127.0.0.1:{port}"
    zygote = Zygote(port, env)
    accepted: dict[str, dict] = {}
    done = threading.Event()
    streamer = threading.Thread(target=_stream, args=(url, SIGNALS, accepted, done, 7), daemon=True)
    copy = None
    points: dict[str, int] = {}
    try:
        streamer.start()
        for _ in range(POINTS):
            kind = rng.choice([*KINDS, "outside"])
            copy = zygote.fork("none" if kind == "outside" else kind, rng.randint(1, 10))
            _healthy(url, copy, timeout=60)
            deadline = time.monotonic() + rng.uniform(0.2, 1.0)
            while not _dead(copy) and time.monotonic() < deadline:
                time.sleep(0.02)
            points[kind if _dead(copy) else "outside"] = points.get(kind if _dead(copy) else "outside", 0) + 1
            _kill(copy)  # at a random moment, if its own point did not come
        copy = zygote.fork("none", 0)  # the last one runs to the end
        assert _healthy(url, copy, timeout=60)
        streamer.join(timeout=180)
        assert not streamer.is_alive(), f"only {len(accepted)} of {SIGNALS} signals were accepted"
        deadline = time.time() + 60
        while time.time() < deadline:
            with signed_client(timeout=5) as client:
                orders = client.get(f"{url}/orders", params={"limit": 10000}).json()
            if all(o["state"] not in LIVE_STATES for o in orders):
                break
            time.sleep(0.3)
        time.sleep(1.0)  # let the update stream bring the last fills in
        copy.send_signal(sig.SIGTERM)
        deadline = time.monotonic() + 20
        while not _dead(copy) and time.monotonic() < deadline:
            time.sleep(0.05)
        venue = paper.state()
    finally:
        done.set()
        if copy is not None:
            _kill(copy)
        zygote.close()
        stop(paper.proc)
    # every kind of point was hit from inside, not only killed from outside
    assert set(points) >= {*KINDS, "outside"} and sum(points.values()) == POINTS, points
    assert_no_order_lost_or_duplicated(kimera_home.journal_path, venue, accepted, SIGNALS)
