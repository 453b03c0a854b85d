"""The demo's paper day through the live loop (``demo.paper_day: live``, the default).

The bars the served model never saw are traded by ``kimera live``'s loop run in this process: the
simulator's stream from enough bars before the first paper bar to fill every feature and input
window (those warm-up bars are predicted, not traded, as a restarted loop replays them), the
online features, the promoted model, the outbox and the signed sender to the demo's execution
service. The paper venue server follows the loop's exchange time: before the watermark that
closes a paper bar, its clock moves to that bar's close and the service's books catch up; after
the bar's signals are answered, the loop waits until the service has no working parent and no
live order (``paper_settle``), so no TWAP slice fills against a later bar's book. The loop's clock
(:class:`live.clock.PacedClock`) stands still meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kimera.app.demo.context import DemoContext, DemoFailed

if TYPE_CHECKING:
    from live.run import LiveRun


def warm_up_bars(ctx: DemoContext) -> int:
    """Bars the loop replays before the first paper bar: the longest feature window, then a full
    model input window of complete features, and one spare."""
    from live.run import needed_bars

    return needed_bars(ctx.config) + ctx.config.models.seq_len + 1


def live_paper_day(ctx: DemoContext, model_tag: str) -> list[str]:
    """Trade the held-out bars of ``model_tag`` (its ``ml.predictions`` say which) through the live
    loop; summary lines: bars, signals and their outcomes, tick-to-trade latencies."""
    # the domains load DuckDB, dbt and torch: imported when the stage runs, so `kimera --help` stays fast
    import duckdb

    from kimera.app.demo.paper_settle import (
        books_deadline_s,
        slices_deadline_s,
        wait_for_books,
        wait_until_settled,
    )
    from kimera.app.report import configured_journal
    from kimera.config import TIMEFRAME_SECONDS
    from kimera.signing import client_auth
    from live.clock import PacedClock
    from live.feeds.sim import SimFeed
    from live.run import live_dir, run_live, with_live_overrides
    from live.signals import Outbox
    from pipelines.features.online_sql import compile_online_features
    from pipelines.signals.resources import signal_resources

    execution = signal_resources(ctx.config)["execution"]
    if not execution.running():
        return [f"  paper day: no execution service answers at {execution.url}; nothing traded"]
    with duckdb.connect(str(ctx.settings.warehouse_path), read_only=True) as con:
        first, last, n_bars = con.execute(
            "SELECT min(feature_time), max(feature_time), count(DISTINCT feature_time) FROM ml.predictions "
            "WHERE model_tag = ?",
            [model_tag],
        ).fetchone()
    if first is None:
        return [f"  paper day: no prediction of {model_tag} after its training data; nothing traded"]
    outbox_path = live_dir(ctx.settings) / "outbox.sqlite"
    outbox = Outbox(outbox_path)
    done_up_to = outbox.last_bar()
    outbox.close()
    if done_up_to is not None and done_up_to >= last:
        return [
            f"  paper day: the live loop signalled every bar up to {last:%Y-%m-%d %H:%M} already "
            "(a re-run sends nothing twice)"
        ]

    config = with_live_overrides(ctx.config, {"feed": "sim", "trade": True})
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    warm = warm_up_bars(ctx)
    feed_start = max(first - (warm + 1) * bar, config.start_time)
    # the service's books show each bar's close (its /healthz says how far they are) before the bar
    # trades, and its parents are done before the market moves on
    books_s = books_deadline_s(config.execution.routing)
    slices_s = slices_deadline_s(config.execution.routing)
    stale: list[datetime] = []
    journal = configured_journal(ctx.settings)
    unsettled: list[datetime] = []
    total = int((last - feed_start) / bar)
    task = ctx.progress.add_task(
        f"  paper day through the live loop ({total - n_bars} warm-up bars)", total=total
    )

    async def trade() -> LiveRun:
        import httpx

        fresh = httpx.Limits(max_keepalive_connections=0)  # the server may close a kept-alive one
        async with httpx.AsyncClient(base_url=ctx.paper_clock_url or "", timeout=5.0, limits=fresh) as paper:

            async def market_to(moment: datetime) -> None:
                if moment < first:
                    return  # warm-up: the paper market starts at the first paper bar
                moved = await paper.put("/admin/clock", json={"time": _epoch(moment)})
                if moved.status_code not in (200, 409):  # 409: the market is past this bar already
                    raise DemoFailed(
                        f"paper day: the paper venue server refused the clock: {moved.text[:300]}"
                    )
                if not await asyncio.to_thread(wait_for_books, execution.url, _epoch(moment), books_s):
                    stale.append(moment)

            async def settled(bar_time: datetime) -> None:
                ctx.progress.advance(task)
                if bar_time < first:
                    return
                if await asyncio.to_thread(wait_until_settled, journal, slices_s):
                    unsettled.append(bar_time)

            compiled = await asyncio.to_thread(
                compile_online_features, config, live_dir(ctx.settings) / "compiled"
            )
            return await run_live(
                ctx.settings,
                config,
                compiled,
                start=feed_start,
                clock=PacedClock(feed_start, config.demo.paper_speed, paced_from=first - bar),
                feed=SimFeed(config, feed_start, end=last, step=bar),
                auth=client_auth(ctx.settings, config.execution.auth.client_key),
                echo=lambda line: None,  # the progress bar and the summary say it
                trade_from=first,
                before_watermark=market_to,
                after_bar=settled,
                stop_on_sigterm=False,  # SIGTERM stays the demo's: it stops the servers too
            )

    run = asyncio.run(trade())
    outcomes = _outcomes(outbox_path, first, last)
    told = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "none sent"
    lines = [
        f"  paper day (live loop): {n_bars} bars {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} after "
        f"{run.bars - n_bars} warm-up bars; {sum(outcomes.values())} signals: {told}; "
        f"{run.marked} bars marked"
    ]
    lat = run.latencies_ms
    if "tick_to_ack" in lat:
        stages = ", ".join(
            f"{s} {lat[s]['p50']:.1f}/{lat[s]['p99']:.1f}"
            for s in ("features", "model", "queue", "ack")
            if s in lat
        )
        t = lat["tick_to_ack"]
        lines.append(
            f"  paper day tick -> order acked: p50 {t['p50']:.0f} ms, p99 {t['p99']:.0f} ms ({t['n']} signals; "
            f"stages p50/p99 ms: {stages})"
        )
    if stale:
        lines.append(
            f"  paper day: on {len(stale)} bars the service's books did not reach the bar's close within "
            f"{books_s:.0f} s; its orders were routed on older books"
        )
    if unsettled:
        lines.append(
            f"  paper day: on {len(unsettled)} bars orders were still in flight {slices_s:.0f} s after the "
            "signals; their later slices filled at a later bar's market"
        )
    return lines


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def _outcomes(outbox_path: Path, first: datetime, last: datetime) -> dict[str, int]:
    """The service's outcome of each signal of the paper bars (its answer's ``outcome``, or the
    outbox's status when the answer has none: rejected, or still queued)."""
    import json

    with sqlite3.connect(f"file:{outbox_path}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT status, answer FROM signals WHERE bar_time BETWEEN ? AND ?",
            [first.isoformat(sep=" "), last.isoformat(sep=" ")],
        ).fetchall()
    con.close()
    counts: dict[str, int] = {}
    for status, answer in rows:
        outcome = status
        if status == "accepted" and answer:
            with contextlib.suppress(ValueError):
                outcome = json.loads(answer).get("outcome", status)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
