"""The demo's serve stage: judge and package the newest model, then predict the newest bars.

Runs the ``serving`` job (promotion gate, bento); with the paper venues the demo started, the
``signals_predict`` job (the model server is started for the run; predictions of every bar after
the model's training data go to ``ml.predictions``) and the paper day: by default those bars
traded by the live loop (``paper_live.py``; its predictions then loaded into
``raw.live_predictions``), or (``demo.paper_day: replay``) the batch predictions replayed bar by
bar through the execution service, then the ``signals`` job (the newest bar, pushed unless it was).
All runs are on the instance under ``KIMERA_HOME/dagster``, so they show in the UI.
"""

from __future__ import annotations

from kimera.app.demo.context import DemoContext, DemoFailed


def serve_stage(ctx: DemoContext) -> list[str]:
    """Promote (or keep), build the bento, predict; one summary line per fact a user wants to see."""
    # the domains load Dagster, BentoML and torch: imported when the stage runs, so `kimera --help` stays fast
    import duckdb

    from bentos.build import bento_store
    from models.promoted import read_promoted
    from models.registry import list_models
    from pipelines.landing.jobs import load_landed_job
    from pipelines.serving.jobs import SERVING_JOB
    from pipelines.signals.jobs import PREDICT_JOB, SIGNALS_JOB
    from pipelines.signals.store import table_exists

    if not list_models(ctx.config.serving.model, ctx.settings):
        return [
            f"serve: skipped: no {ctx.config.serving.model} in the model store yet (the train stage makes one)"
        ]
    ctx.run_job(SERVING_JOB, "Promotion gate and bento", partitioned=False)
    landing_job = load_landed_job.name
    served = read_promoted(ctx.settings)
    assert served is not None  # the gate promotes the first model it sees
    paper_day: list[str] = []
    live = ctx.paper_clock_url is not None and ctx.config.demo.paper_day == "live"
    if ctx.paper_clock_url is not None:
        ctx.run_job(
            PREDICT_JOB, "Predictions for the bars after the model's training data", partitioned=False
        )
    if live:
        from kimera.app.demo.paper_live import live_paper_day

        paper_day = live_paper_day(ctx, served.tag)
        # what the loop predicted, traded or not, into raw.live_predictions
        ctx.run_job(landing_job, "The live loop's predictions into raw.live_predictions", partitioned=False)
    elif ctx.paper_clock_url is not None:
        paper_day = replay_paper_day(ctx, served.tag)
    if not live:  # the loop traded the newest bar: pushing the batch's prediction of it would trade it twice
        ctx.run_job(SIGNALS_JOB, "Predictions for the newest bars, pushed", partitioned=False)
    bentos = [b for b in bento_store(ctx.settings).list() if b.info.labels.get("model") == served.tag]
    bento = max(bentos, key=lambda b: b.info.creation_time).tag if bentos else None
    with duckdb.connect(str(ctx.settings.warehouse_path), read_only=True) as con:
        decision = con.execute(
            "SELECT decision, candidate_tag, reason FROM ml.promotions ORDER BY decided_at DESC LIMIT 1"
        ).fetchall()
        has_predictions = table_exists(con, "predictions")
        newest = (
            con.execute(
                """
            SELECT asset, feature_time, forecast, lower, upper, p_up FROM ml.predictions
            WHERE model_tag = ? QUALIFY row_number() OVER (PARTITION BY asset ORDER BY feature_time DESC) = 1
            ORDER BY asset
            """,
                [served.tag],
            ).fetchall()
            if has_predictions
            else []
        )
        pushed = (
            con.execute("SELECT count(*) FROM ml.signal_pushes WHERE status = 'accepted'").fetchall()[0][0]
            if has_predictions
            else 0
        )
    lines = [f"serve: served model {served.tag}"]
    if decision:
        kind, candidate, reason = decision[0]
        lines.append(f"  last gate decision: {kind} {candidate} ({reason})")
    lines.append(f"  bento {bento}: `bentoml serve {bento}`, or `kimera serve` for the promoted model")
    lines.append("  newest forecasts (forward log return over the horizon, 80 % interval, P(up)):")
    lines += [
        f"  {asset:<6} {t:%Y-%m-%d %H:%M}  {f:+.5f}  [{lo:+.5f}, {hi:+.5f}]  P(up) {p:.3f}"
        for asset, t, f, lo, hi, p in newest
    ]
    lines += paper_day
    lines.append(f"  signals accepted by the execution service so far: {pushed + _loop_accepted(ctx)}")
    return lines


def _loop_accepted(ctx: DemoContext) -> int:
    """Signals of the live loop's outbox (the live paper day, `kimera live`) the service accepted."""
    import sqlite3

    from live.run import live_dir

    path = live_dir(ctx.settings) / "outbox.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        accepted = con.execute("SELECT count(*) FROM signals WHERE status = 'accepted'").fetchone()[0]
    con.close()
    return int(accepted)


def replay_paper_day(ctx: DemoContext, model_tag: str) -> list[str]:
    """Paper-trade the bars the served model never saw: its prediction of each bar goes to the
    execution service once the paper market has reached that bar's close, bar by bar in time order.

    The paper venue server was started by the demo at the end of the model's training data
    (``kimera/app/demo/paper_trading.py``), so its market is the simulator's market of that moment; each push is
    signed and journalled in ``ml.signal_pushes`` exactly as the signals asset does, so a re-run sends
    nothing twice (the service is idempotent by signal id too).
    """
    # the domains load Dagster, dbt and torch: imported when the stage runs, so `kimera --help` stays fast
    import duckdb
    import httpx
    import pandas as pd

    from pipelines.signals.assets import push_prediction
    from pipelines.signals.resources import signal_resources
    from pipelines.signals.store import unpushed

    execution = signal_resources(ctx.config)["execution"]
    if not execution.running():
        return [f"  paper day: no execution service answers at {execution.url}; nothing replayed"]
    from kimera.app.demo.paper_settle import (
        books_deadline_s,
        slices_deadline_s,
        wait_for_books,
        wait_until_settled,
    )
    from kimera.app.report import configured_journal

    books_s = books_deadline_s(ctx.config.execution.routing)
    slices_s = slices_deadline_s(ctx.config.execution.routing)
    stale = 0
    journal = configured_journal(ctx.settings)
    unsettled = 0
    outcomes: dict[str, int] = {}
    with duckdb.connect(str(ctx.settings.warehouse_path)) as con:
        rows = unpushed(con, model_tag)
        if rows.empty:
            return [
                "  paper day: every prediction of the served model was pushed already (a re-run sends nothing twice)"
            ]
        auth = execution.auth()
        task = ctx.progress.add_task("  paper day, signals bar by bar", total=len(rows))
        # no kept-alive connection: the server may close one while the stage waits for slices
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=ctx.paper_clock_url, timeout=5.0, limits=fresh) as paper:
            for feature_time, bar in rows.groupby("feature_time", sort=True):
                t = pd.Timestamp(feature_time).tz_localize("UTC").timestamp()
                moved = paper.put("/admin/clock", json={"time": t})
                if moved.status_code not in (200, 409):  # 409: the market is past this bar already
                    raise DemoFailed(
                        f"paper day: the paper venue server refused the clock: {moved.text[:300]}"
                    )
                stale += not wait_for_books(execution.url, t, books_s)
                for row in bar.itertuples(index=False):
                    try:
                        _, response, status = push_prediction(con, execution, row, auth)
                    except Exception as exc:  # journalled as failed; sent again on the next run
                        raise DemoFailed(
                            f"paper day: pushing the signal of {row.asset} at {feature_time}: {exc}"
                        ) from None
                    outcome = response.json().get("outcome", status) if status == "accepted" else status
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                    ctx.progress.advance(task)
                unsettled += wait_until_settled(journal, slices_s) > 0
    first, last = rows["feature_time"].min(), rows["feature_time"].max()
    told = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    lines = [
        f"  paper day: {len(rows)} signals of bars {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} (after the model's "
        f"training data), each sent when the paper market reached its bar's close: {told}"
    ]
    if stale:
        lines.append(
            f"  paper day: on {stale} bars the service's books did not reach the bar's close within {books_s:.0f} s; "
            "its orders were routed on older books"
        )
    if unsettled:
        lines.append(
            f"  paper day: on {unsettled} bars orders were still in flight {slices_s:.0f} s after the push; "
            "their later slices filled at a later bar's market"
        )
    return lines
