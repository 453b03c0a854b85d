"""The demo's serve stage: judge and package the newest model, then predict the newest bars.

Runs the ``serving`` job (promotion gate, bento) and the ``signals`` job (the model server is
started for the run, predictions go to ``ml.predictions``, and to the execution service when one
runs) on the instance under ``KIMERA_HOME/dagster``, so both show in the UI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kimera.demo import DemoContext


def serve_stage(ctx: DemoContext) -> list[str]:
    """Promote (or keep), build the bento, predict; one summary line per fact a user wants to see."""
    import duckdb

    from bentos.build import bento_store
    from models.promoted import read_promoted
    from models.registry import list_models
    from pipelines.serving.jobs import SERVING_JOB
    from pipelines.signals.jobs import SIGNALS_JOB
    from pipelines.signals.store import table_exists

    if not list_models(ctx.config.serving.model, ctx.settings):
        return [
            f"serve: skipped: no {ctx.config.serving.model} in the model store yet (the train stage makes one)"
        ]
    ctx.run_job(SERVING_JOB, "Promotion gate and bento", partitioned=False)
    ctx.run_job(SIGNALS_JOB, "Predictions for the newest bars", partitioned=False)
    served = read_promoted(ctx.settings)
    assert served is not None  # the gate promotes the first model it sees
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
    lines.append(f"  signals accepted by the execution service so far: {pushed}")
    return lines
