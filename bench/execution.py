"""Signal -> child orders acknowledged by the paper venues over HTTP, at a fixed arrival rate.

The service and the paper venue server each run in their own process, as ``kimera execute`` runs
them; signals arrive open-loop at 500/s and each answer comes back once its orders are
acknowledged (each order journaled durably as submitted before the venue call; the venue's ack
is committed in the journal's next group commit, not waited on: docs/execution.md). Baseline (a floor): a bare HTTP round
trip to the same venue server at the same rate, in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx  # readiness probes only
import numpy as np
import yaml

from bench import Measure
from kimera.signing import sign_request

ROOT = Path(__file__).resolve().parent.parent
BENCH_KEY = "bench-signing-secret-6e8a0c2e4a6c8e0a"  # a throwaway API key for the service under test


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


async def _open_loop(send, rate: float, seconds: float) -> list[float]:
    """Call ``send(i)`` at ``rate`` per second for ``seconds``; latencies of the calls that succeeded."""
    latencies: list[float] = []
    tasks = []
    n = int(rate * seconds)
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        start = time.perf_counter()
        if await send(i):
            latencies.append(time.perf_counter() - start)

    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return latencies


def run(quick: bool = False) -> list[Measure]:
    seconds = 2.0 if quick else 6.0
    out = []
    # full: each commit fsyncs (survives power loss); normal: WAL without fsync per commit (survives a
    # crash of the process, which is what the crash test checks). fsync alone is ~5 ms p50 on a VM disk.
    for synchronous, rates in (("full", (100.0, 500.0)), ("normal", (500.0,))):
        out.extend(_run_mode(synchronous, rates, seconds))
    return out


def bench_execution(service_port: int, venue_port: int) -> dict:
    """The execution section of the benches that run the service: the service and its paper venues on these ports,
    with limits that never refuse the bench's own signals (the bench measures latency, not risk)."""
    limits = {v: 5000 for v in ("alpha", "bravo", "charlie", "uniswap_v2_weth_usdc", "uniswap_v2_wbtc_usdc")}
    return {
        "port": service_port,
        "paper": {"url": f"http://127.0.0.1:{venue_port}", "port": venue_port, "rate_limit_per_s": limits},
        "sizing": {"capital": 20_000},
        "risk": {"max_order_notional": 1e6, "max_position_notional": 1e6, "daily_loss_limit": 1e9},
        "routing": {"slice_threshold_notional": 1e9},
        "oms": {"ack_wait_s": 2.0},
    }


def _start_service(synchronous: str) -> tuple[int, int, list[subprocess.Popen]]:
    """(venue port, service port, processes): the paper venue server and the service, each its own process."""
    venue_port, service_port = _port(), _port()
    tmp = Path(tempfile.mkdtemp(prefix="kimera-bench-exec-"))
    data = yaml.safe_load((ROOT / "kimera.yaml").read_text())
    data["execution"] = {**bench_execution(service_port, venue_port), "journal_synchronous": synchronous}
    config = tmp / "kimera.yaml"
    config.write_text(yaml.safe_dump(data))
    env = dict(os.environ, PYTHONPATH=str(ROOT), KIMERA_CONFIG=str(config), KIMERA_HOME=str(tmp / "home"),
               KIMERA_LOG_LEVEL="WARNING", KIMERA_SECRET_EXECUTION_KEY_LOCAL=BENCH_KEY)  # fmt: skip
    venue = subprocess.Popen([sys.executable, "-m", "execution.venues.server", "--port", str(venue_port),
                              "--config", str(config)], env=env, cwd=ROOT)  # fmt: skip
    procs = [venue]
    try:
        _wait(f"http://127.0.0.1:{venue_port}/ping", venue)
        service = subprocess.Popen([sys.executable, "-m", "execution.app", "--port", str(service_port)], env=env,
                                   cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        procs.insert(0, service)
        _wait(f"http://127.0.0.1:{service_port}/healthz", service)
    except BaseException:
        _stop(procs)
        raise
    return venue_port, service_port, procs


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate ``proc`` if it still runs; kill it when it has not exited 20 s later."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


def _run_mode(synchronous: str, rates: tuple[float, ...], seconds: float) -> list[Measure]:
    venue_port, service_port, procs = _start_service(synchronous)
    try:
        results = {r: asyncio.run(_measure(venue_port, service_port, r, seconds)) for r in rates}
    finally:
        _stop(procs)
    out = []
    for r, (ack, ping, acked_share) in results.items():
        p99, base99 = float(np.percentile(ack, 99) * 1e3), float(np.percentile(ping, 99) * 1e3)
        p50 = float(np.percentile(ack, 50) * 1e3)
        out.append(Measure(
            f"signal -> orders acked p99, {r:.0f}/s, journal {synchronous} (p50 {p50:.1f} ms, {acked_share:.0%} acked)",
            p99, "ms", "bare HTTP round trip to the venue server p99", base99, p99 / base99, "<= 20 ms at 500/s",
            bool(p99 <= 20.0),
        ))  # fmt: skip
    return out


async def _measure(venue_port: int, service_port: int, rate: float, seconds: float):
    import aiohttp  # the load generator must cost far less than what it measures

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as client:
        venue_url, service_url = f"http://127.0.0.1:{venue_port}", f"http://127.0.0.1:{service_port}"
        acked = [0, 0]

        async def ping(i: int) -> bool:
            async with client.get(f"{venue_url}/ping") as r:
                await r.read()
                return r.status == 200

        async def send(i: int) -> bool:
            asset = ("BTC", "ETH")[i % 2]
            forecast = 0.004 if (i // 2) % 2 else -0.004  # flips the target every time: every signal trades
            body = {"signal_id": f"bench-{i}", "asset": asset, "model_tag": "bench", "prediction_id": f"p{i}",
                    "feature_time": "2026-04-01T00:00:00", "horizon": 1, "forecast": forecast,
                    "lower": forecast - 0.01, "upper": forecast + 0.01, "p_up": 0.5}  # fmt: skip
            data = json.dumps(body).encode()  # signed as every client must (issue #8)
            headers = {
                "content-type": "application/json",
                **sign_request("POST", "/signals", data, "local", BENCH_KEY),
            }
            async with client.post(f"{service_url}/signals", data=data, headers=headers) as r:
                answer = await r.json()
                if r.status != 200 or answer["outcome"] != "orders":
                    return False
            acked[1] += 1
            if all(o["state"] not in ("new", "submitted", "unknown") for o in answer["orders"]):
                acked[0] += 1
                return True
            return False

        await _open_loop(ping, rate, 1.0)  # warm both
        await _open_loop(lambda i: send(i + 10**7 + int(rate) * 10**4), 50, 1.0)
        ping_lat = await _open_loop(ping, rate, seconds)
        ack_lat = await _open_loop(lambda i: send(i + int(rate) * 10**5), rate, seconds)
        return ack_lat, ping_lat, acked[0] / max(acked[1], 1)
