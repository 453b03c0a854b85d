"""The soak run: ``kimera live``'s loop for minutes of wall time against the loopback exchange.

Everything runs as it ships, each part in its own process: the loopback exchange
(``marketsim.exchange_server.serve``: 3 Binance venues x 2 assets streaming a total trade rate in
Binance's websocket format), the execution service and its paper venue server (as ``bench live``
starts them), and the loop itself (:func:`live.run.run_live`, what ``kimera live`` runs) with
``live.feed: ccxt`` (the real ccxt.pro class per venue, trade and order-book watchers),
``exchange.timeframe: 1m`` and ``features.bar: 1m``, trading an in-process linear model with fixed
weights on three features every full bar of a trade-and-book feed has (spread_bps, vwap_dev,
taker_buy_ratio; one bar a window), so every bar after the loop's first (partial) one is traded:
the warm-up is that one bar. Bars close on the exchange's time, which is the wall: a bar is a
minute. Afterwards the ``live_loop_sensor`` is evaluated once on the run's own Dagster instance.

What it reports (:class:`SoakResult`): bars closed, marked, predicted and traded; late trades;
trades received/s against sent/s; tick -> order acked per stage; CPU and RSS of every process
over the steady part of the run (from the first closed bar to the end); the sensor's observation.
Every process it started is stopped on the way out, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil
import yaml

from bench.execution import BENCH_KEY, ROOT, _port, _wait, bench_execution, stop_process

VENUES = ("loopback1", "loopback2", "loopback3")
FEATURES = ["spread_bps", "vwap_dev", "taker_buy_ratio"]
SAMPLE_S = 2.0
# one trade per venue and symbol every 10 s, the one in each period's last second, reaches the feed
# 8 s after its time (the exchange held it up): at each minute's end that is past the bar's close
# (the feed's 2 s grace), so every stream has a late trade every bar
STRAGGLER_EVERY_S = 10.0
DEADLINE_MARGIN_S = 120.0  # the partial first bar (< 60 s), the feed's grace, and slack


@dataclass
class Sample:
    at: float  # time.monotonic()
    bars_closed: int
    received: int  # fresh trades the feed took in (websocket and backfill)
    late: int
    sent: int  # trade messages the loopback exchange pushed
    sent_seconds: float  # the exchange's own clock for `sent`
    cpu_s: dict[str, float]  # process -> user + system CPU seconds so far (children included)
    rss_mb: dict[str, float]


@dataclass
class SoakResult:
    minutes: int
    rate: float  # trades/s asked for, over every venue and asset
    streamed_rate: float  # what the exchange's burst schedule streams (trades/s, every venue and asset)
    bars_closed: int
    bars_marked: int
    bars_predicted: int  # bars with a prediction for every asset
    bars_traded: int  # bars with every asset's signal accepted by the service (orders acked)
    first_traded_bar: int | None  # index (0 = the bar the loop started inside) of the first traded bar
    untraded_after_warmup: list[str]  # bars after the first traded one that were not traded, and why
    signals_per_asset_bar_max: int  # 1: no bar traded twice
    late_trades: int
    received: int
    landed_trades: int  # rows of raw.exchange_trades landed as files (late ones included)
    backfilled: int
    reconnects: int
    gaps: int
    sent_per_s: float  # steady part: first closed bar -> end
    received_per_s: float
    cpu_percent: dict[str, float]  # steady part, % of one core
    rss_mb_start: dict[str, float]  # at the first closed bar
    rss_mb_end: dict[str, float]
    latencies_ms: dict[str, dict[str, float]]
    status: dict[str, Any]
    sensor: dict[str, Any]
    load_average: tuple[float, float, float]
    home: Path
    samples: list[Sample] = field(default_factory=list, repr=False)


def promote_soak_model(settings, trained_until) -> str:
    """The linear model the soak trades (fixed weights; known from the first full bar), promoted."""
    from models.promoted import write_promoted
    from models.registry import save_model
    from models.scaling import Scaler
    from models.tabular import LinearModel

    scaler = Scaler(("BTC", "ETH"), np.zeros((2, 3)), np.array([[5.0, 0.01, 0.2]] * 2), 0.01)
    model = LinearModel(
        np.array([-0.2, 0.3, 0.4]), 0.0, 0.5, feature_names=tuple(FEATURES), seq_len=1, horizon=1,
        levels=(0.1, 0.5, 0.9), scaler=scaler, params={"lags": 1},
    )  # fmt: skip
    stored = save_model(
        model, data_window=(trained_until - timedelta(days=30), trained_until), settings=settings
    )
    write_promoted(stored.tag, "soak", settings)
    return stored.tag


def soak_config(tmp: Path, exchange_ports: list[int], venue_port: int, service_port: int) -> Path:
    """The shipped kimera.yaml with the loopback exchange as the ccxt feed and 1m bars."""
    data = yaml.safe_load((ROOT / "kimera.yaml").read_text())
    data["exchange"] = {
        "source": "ccxt",
        "timeframe": "1m",
        "book_interval": "1m",  # a book snapshot every bar: spread_bps is known on every bar
        "book_depth": 10,
        "ccxt_venues": [
            {"exchange": "binance", "id": name, "api_base": f"http://127.0.0.1:{port}", "rate_limit": False}
            for name, port in zip(VENUES, exchange_ports, strict=True)
        ],
    }
    data["features"] = {**data.get("features", {}), "bar": "1m"}
    data["execution"] = bench_execution(service_port, venue_port)
    data["live"] = {"feed": "ccxt", "max_model_age_hours": 1_000_000}
    path = tmp / "kimera.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def _thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds of one thread of this process (the rest of the loop's CPU: DuckDB, offloaded work)."""
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    return 0.0


def _read_stats(path: Path) -> tuple[int, float]:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        stats = json.loads(path.read_text())
        return sum(stats["trades_sent"]), float(stats["seconds"])
    return 0, 0.0


def run_soak(
    minutes: int,
    rate: float,
    *,
    workdir: Path | None = None,
    echo=print,
    sensor: bool = True,
    profile: Path | None = None,
) -> SoakResult:
    """``minutes`` one-minute bars of ``kimera live``'s loop at ``rate`` trades/s in total; with
    ``profile``, cProfile's statistics of the event-loop thread (feed, ccxt, websockets) go there."""
    from pydantic import SecretStr

    from kimera.config import load_config
    from kimera.settings import Settings
    from kimera.signing import SignedAuth
    from live.clock import LiveClock
    from live.run import ccxt_feed, run_live, status_path
    from pipelines.features.online_sql import compile_online_features

    if minutes < 1:
        raise ValueError(f"minutes must be >= 1, got {minutes}")
    tmp = workdir or Path(tempfile.mkdtemp(prefix="kimera-soak-"))
    tmp.mkdir(parents=True, exist_ok=True)
    stats_path = tmp / "exchange-stats.json"
    procs: dict[str, subprocess.Popen] = {}
    env = dict(os.environ, PYTHONPATH=str(ROOT), KIMERA_LOG_LEVEL="WARNING", OMP_NUM_THREADS="1")
    try:
        procs["exchange"] = subprocess.Popen(
            [sys.executable, "-m", "marketsim.exchange_server.serve", "--venues", str(len(VENUES)),
             "--symbols", "BTC/USDT", "ETH/USDT", "--rate", str(rate), "--stats", str(stats_path),
             "--straggler-every-s", str(STRAGGLER_EVERY_S)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        line = procs["exchange"].stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"the loopback exchange exited with {procs['exchange'].wait()}")
        ready = json.loads(line)
        streamed_rate = ready["trades_per_s_per_symbol"] * len(VENUES) * 2
        venue_port, service_port = _port(), _port()
        config_path = soak_config(tmp, ready["ports"], venue_port, service_port)
        settings = Settings(home=tmp / "home", config=config_path)
        config = load_config(config_path)
        compiled = compile_online_features(config, tmp / "compiled")
        promote_soak_model(settings, config.start_time)
        env.update(KIMERA_CONFIG=str(config_path), KIMERA_HOME=str(tmp / "service"),
                   KIMERA_SECRET_EXECUTION_KEY_LOCAL=BENCH_KEY)  # fmt: skip
        procs["venue"] = subprocess.Popen(
            [sys.executable, "-m", "execution.venues.server", "--port", str(venue_port), "--config",
             str(config_path)], env=env, cwd=ROOT)  # fmt: skip
        _wait(f"http://127.0.0.1:{venue_port}/ping", procs["venue"])
        procs["service"] = subprocess.Popen(
            [sys.executable, "-m", "execution.app", "--port", str(service_port)], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(f"http://127.0.0.1:{service_port}/healthz", procs["service"])
        watched = {name: psutil.Process(p.pid) for name, p in procs.items()}
        watched["loop"] = psutil.Process()
        feed = ccxt_feed(config, settings)
        main_tid = threading.main_thread().native_id  # asyncio.run's thread: websockets, ccxt, the loop
        samples: list[Sample] = []

        def sample() -> None:
            status = {}
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                status = json.loads(status_path(settings).read_text())
            sent, sent_seconds = _read_stats(stats_path)
            inner = feed.inner
            samples.append(Sample(
                time.monotonic(), int(status.get("bars_closed", 0)), inner.stats.trades,
                inner.builder.late_trades, sent, sent_seconds,
                {**{n: _cpu_s(p) for n, p in watched.items()}, "loop: event-loop thread": _thread_cpu_s(main_tid)},
                {n: p.memory_info().rss / 2**20 for n, p in watched.items()},
            ))  # fmt: skip

        async def sampler() -> None:
            while True:
                await asyncio.to_thread(sample)
                await asyncio.sleep(SAMPLE_S)

        async def deadline() -> None:
            # a loop that falls behind closes no bar: stop it as an operator would (SIGTERM, which
            # run_live handles), after the bars asked for plus the partial first one and a margin
            await asyncio.sleep(60 * minutes + DEADLINE_MARGIN_S)
            echo(f"soak: {minutes} bars not closed by the deadline; stopping the loop (SIGTERM)")
            os.kill(os.getpid(), signal.SIGTERM)

        async def soak():
            task = asyncio.create_task(sampler())
            stopper = asyncio.create_task(deadline())
            try:
                return await run_live(
                    settings, config, compiled, bars=minutes, clock=LiveClock(), feed=feed,
                    auth=SignedAuth("local", SecretStr(BENCH_KEY)), echo=echo,
                )  # fmt: skip
            finally:
                for t in (task, stopper):
                    t.cancel()
                await asyncio.gather(task, stopper, return_exceptions=True)

        echo(
            f"soak: {minutes} one-minute bars at {streamed_rate:,.0f} trades/s over {len(VENUES)} venues x 2 assets"
        )
        if profile is None:
            run = asyncio.run(soak())
        else:
            profiler = cProfile.Profile()
            run = profiler.runcall(asyncio.run, soak())
            profiler.dump_stats(profile)
        samples.append(
            replace(samples[-1], received=feed.inner.stats.trades, late=feed.inner.builder.late_trades)
        )
        (tmp / "samples.json").write_text(json.dumps([asdict(x) for x in samples]))  # the run's timeline
        observed = _sensor(tmp, config_path) if sensor else {}
        status = json.loads(status_path(settings).read_text())
        return _result(minutes, rate, streamed_rate, run, feed, samples, status, observed, settings)
    finally:
        for name in ("exchange", "service", "venue"):
            if name in procs:
                stop_process(procs[name])


def _sensor(tmp: Path, config_path: Path) -> dict[str, Any]:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), KIMERA_HOME=str(tmp / "home"), KIMERA_CONFIG=str(config_path)
    )
    out = subprocess.run([sys.executable, "-m", "bench._soak_sensor"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"the live_loop_sensor evaluation failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _result(minutes, rate, streamed_rate, run, feed, samples, status, observed, settings) -> SoakResult:
    home = settings.home_dir
    outbox = sqlite3.connect(home / "live" / "outbox.sqlite")
    try:
        per_bar = outbox.execute(
            "select bar_time, count(*), sum(status = 'accepted') from signals group by bar_time order by bar_time"
        ).fetchall()
        most = outbox.execute(
            "select coalesce(max(n), 0) from (select count(*) n from signals group by asset, bar_time)"
        )
        twice = int(most.fetchone()[0])
    finally:
        outbox.close()
    landing = settings.landing_dir / "incoming"
    with duckdb.connect() as con:
        landed, predictions = (0, 0), []
        if list((landing / "exchange_trades").glob("*.parquet")):
            landed = con.execute(
                "select count(*), count(distinct (venue, symbol, trade_id)) "
                f"from read_parquet('{landing}/exchange_trades/*.parquet')"
            ).fetchone()
        if list((landing / "live_predictions").glob("*.parquet")):
            predictions = con.execute(
                "select feature_time, count(*), bool_and(traded), string_agg(distinct reason, '; ') "
                f"from read_parquet('{landing}/live_predictions/*.parquet') group by feature_time order by feature_time"
            ).fetchall()
    assets = 2
    traded_bars = [str(b) for b, n, ok in per_bar if n == assets and ok == assets]
    first = min(traded_bars) if traded_bars else None
    untraded = [
        f"{t}: {reason or 'signal not accepted'}"
        for t, n, all_traded, reason in predictions
        if first is not None and str(t) > first and not (n == assets and all_traded and str(t) in traded_bars)
    ]
    # rates over the steady part, while every stream ran: first closed bar -> the last sample taken
    # during the run (the copy appended afterwards only carries the final counts)
    running = samples[:-1] or samples
    steady = [s for s in running if s.bars_closed >= 1] or running
    a, b = steady[0], running[-1]
    span = max(b.at - a.at, 1e-9)
    inner = feed.inner
    return SoakResult(
        minutes=minutes, rate=rate, streamed_rate=streamed_rate,
        bars_closed=run.bars, bars_marked=run.marked,
        bars_predicted=sum(n == assets for _, n, _, _ in predictions), bars_traded=len(traded_bars),
        first_traded_bar=None if first is None else run.bars - len(predictions) + next(
            i for i, p in enumerate(predictions) if str(p[0]) == first),
        untraded_after_warmup=untraded, signals_per_asset_bar_max=twice,
        late_trades=inner.builder.late_trades, received=inner.stats.trades, landed_trades=int(landed[1]),
        backfilled=inner.stats.backfilled, reconnects=inner.stats.reconnects, gaps=inner.stats.gaps,
        sent_per_s=(b.sent - a.sent) / max(b.sent_seconds - a.sent_seconds, 1e-9),
        received_per_s=(b.received - a.received) / span,
        cpu_percent={k: 100 * (b.cpu_s[k] - a.cpu_s[k]) / span for k in b.cpu_s},
        rss_mb_start=a.rss_mb, rss_mb_end=b.rss_mb, latencies_ms=run.latencies_ms, status=status,
        sensor=observed, load_average=os.getloadavg(), home=home, samples=samples,
    )  # fmt: skip


def describe(r: SoakResult) -> list[str]:
    """The run's figures as lines for a terminal or a log."""
    lines = [
        f"rate asked {r.rate:,.0f}/s, streamed {r.streamed_rate:,.0f}/s; load average at the end {r.load_average}",
        f"bars closed {r.bars_closed}, marked {r.bars_marked}, predicted {r.bars_predicted}, traded {r.bars_traded} "
        f"(first traded bar #{r.first_traded_bar}); a signal per asset and bar at most {r.signals_per_asset_bar_max}",
        f"untraded after the first traded bar: {r.untraded_after_warmup or 'none'}",
        f"trades: sent {r.sent_per_s:,.0f}/s, received {r.received_per_s:,.0f}/s (steady part); "
        f"{r.received:,} received, {r.landed_trades:,} landed, {r.late_trades} late, {r.backfilled} backfilled, "
        f"{r.reconnects} reconnects, {r.gaps} gaps",
    ]
    for stage, q in r.latencies_ms.items():
        lines.append(f"  {stage:12s} p50 {q['p50']:8.1f} ms  p99 {q['p99']:8.1f} ms  (n={q['n']})")
    for proc, cpu in r.cpu_percent.items():
        rss = (
            f"; RSS {r.rss_mb_start[proc]:.0f} -> {r.rss_mb_end[proc]:.0f} MB"
            if proc in r.rss_mb_start
            else ""
        )
        lines.append(f"  {proc:9s} CPU {cpu:5.1f} % of a core{rss}")
    minute = [
        s for i, s in enumerate(r.samples[:-1]) if i == 0 or s.bars_closed != r.samples[i - 1].bars_closed
    ]
    lines.append("  loop RSS at each bar close (MB): " + " ".join(f"{s.rss_mb['loop']:.0f}" for s in minute))
    meta = r.sensor.get("metadata", {})
    keys = (
        "state",
        "heartbeat",
        "lag_s",
        "bars_closed",
        "bars_traded",
        "tick_to_ack_p50_ms",
        "tick_to_ack_p99_ms",
    )
    lines.append(f"status.json: bars_traded {r.status.get('bars_traded')}, signals {r.status.get('signals')}")
    lines.append(f"KIMERA_HOME of the run (dagster dev on it shows live/loop): {r.home}")
    lines.append(f"dagster live/loop observation ({r.sensor.get('observations')} in the instance): "
                 + ", ".join(f"{k}={meta.get(k)}" for k in keys))  # fmt: skip
    return lines
