"""Signals assets: the served model's predictions for the newest bars, and their push to execution.

``signals/predictions`` asks the model server (``serving.signals.model_url``, started for the run
when none answers and ``autostart`` is on) for every bar since the last one it predicted (at most
``max_bars`` per asset, never bars the model trained on) and stores them in ``ml.predictions``.
``signals/execution_push`` sends the newest prediction per asset to the execution service's
``POST /signals`` (docs/contracts.md), journalled in ``ml.signal_pushes``.
"""

from datetime import datetime, timedelta

import dagster as dg
import httpx
import pandas as pd
from dagster_duckdb import DuckDBResource

from kimera.config import load_config
from kimera.settings import get_settings
from pipelines.signals.resources import ExecutionResource, ModelServerResource

GROUP = "signals"
PREDICTIONS = dg.AssetKey(["signals", "predictions"])
PUSH = dg.AssetKey(["signals", "execution_push"])
CHUNK = 2000  # windows per /predict_batch call


@dg.asset(
    key=PREDICTIONS,
    deps=[dg.AssetKey(["marts", "features"]), dg.AssetKey(["serving", "promoted_model"])],
    group_name=GROUP,
    pool="duckdb",
    description="Predictions of the served model for the newest bars of every asset (ml.predictions).",
)
def predictions(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, model_server: ModelServerResource
) -> dg.MaterializeResult:
    from ulid import ULID

    from pipelines.signals.store import last_predicted, now, write_predictions
    from pipelines.signals.windows import recent_windows

    config = load_config(settings=get_settings())
    with model_server.session(context.log) as server:
        tag = server.get("/v1/health")["served_model"]
        info = server.get(f"/v1/models/{tag}")
        horizon = int(info["horizon"])
        # bars from the end of the training data on are out of sample for this model
        default_after = datetime.fromisoformat(info["data_window"]["end"]) - timedelta(microseconds=1)
        with warehouse.get_connection() as con:
            after = last_predicted(con, tag, horizon)
            windows = recent_windows(
                con, features=info["features"], seq_len=int(info["seq_len"]), horizon=horizon,
                assets=info["assets"], after=after, default_after=default_after,
                max_bars=config.serving.signals.max_bars, sessions=config.sessions,
            )  # fmt: skip
        answers: list[dict] = []
        for start in range(0, len(windows), CHUNK):
            part = windows.take(slice(start, start + CHUNK))
            answers += server.predict_batch(
                [
                    {"asset": str(a), "window": x.tolist(), "model": tag}
                    for a, x in zip(part.asset, part.x, strict=True)
                ]
            )
    created = now()
    rows = pd.DataFrame(
        {
            "prediction_id": [str(ULID()) for _ in answers],
            "model_tag": [a["model_tag"] for a in answers],
            "asset": [a["asset"] for a in answers],
            "feature_time": pd.to_datetime(windows.bar_time),
            "horizon": [int(a["horizon"]) for a in answers],
            "forecast": [a["forecast"] for a in answers],
            "lower": [a["lower"] for a in answers],
            "upper": [a["upper"] for a in answers],
            "p_up": [a["p_up"] for a in answers],
            "created_at": created,
        }
    )
    with warehouse.get_connection() as con:
        written = write_predictions(con, rows) if len(rows) else 0
    newest = rows.sort_values("feature_time").groupby("asset").tail(1) if len(rows) else rows
    context.log.info(f"{written} new predictions of {tag}")
    return dg.MaterializeResult(
        metadata={
            "served_model": tag,
            "new_predictions": written,
            "bars": {str(a): int(n) for a, n in rows["asset"].value_counts().items()} if len(rows) else {},
            "newest": dg.MetadataValue.md(
                _md(newest[["asset", "feature_time", "forecast", "lower", "upper", "p_up"]])
                if len(newest)
                else "no new bar"
            ),
        }
    )


def _md(frame: pd.DataFrame) -> str:
    def cell(v) -> str:
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def signal_body(row) -> dict:
    """The contract's signal (docs/contracts.md) for one stored prediction; its id is the prediction's."""
    return {
        "signal_id": row.prediction_id,
        "asset": row.asset,
        "model_tag": row.model_tag,
        "prediction_id": row.prediction_id,
        "feature_time": pd.Timestamp(row.feature_time).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "horizon": int(row.horizon),
        "forecast": float(row.forecast),
        "lower": float(row.lower),
        "upper": float(row.upper),
        "p_up": float(row.p_up),
    }


def push_prediction(con, execution: ExecutionResource, row, auth) -> tuple[dict, httpx.Response, str]:
    """Send one stored prediction as a signal, journalled in ``ml.signal_pushes`` around the call:
    'sending' before, the service's answer (accepted or rejected) or the failure after. Returns the
    body sent, the answer and its status; a failure is journalled and raised."""
    from pipelines.signals.store import journal_push

    body = signal_body(row)
    journal_push(con, row.prediction_id, execution.url, "sending")
    try:
        response = execution.post_signal(body, auth)
    except Exception as exc:
        journal_push(con, row.prediction_id, execution.url, "failed", None, str(exc)[:2000])
        raise
    status = "accepted" if response.status_code < 300 else "rejected"
    journal_push(con, row.prediction_id, execution.url, status, response.status_code, response.text[:2000])
    return body, response, status


@dg.asset(
    key=PUSH,
    deps=[PREDICTIONS],
    group_name=GROUP,
    pool="duckdb",
    description="The newest prediction per asset sent to the execution service (POST /signals), "
    "journalled in ml.signal_pushes; skipped when no service runs and push is 'auto'.",
)
def execution_push(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource, execution: ExecutionResource
) -> dg.MaterializeResult:
    from pipelines.signals.store import newest_model_tag, unpushed_newest

    if execution.push == "off":
        return dg.MaterializeResult(metadata={"pushed": 0, "reason": "serving.signals.push is 'off'"})
    if not execution.running():
        message = f"no execution service answers at {execution.url}/healthz"
        if execution.push == "required":
            raise dg.Failure(
                f"{message}; start it with `kimera execute` (serving.signals.push is 'required')"
            )
        context.log.info(f"{message}: nothing pushed (serving.signals.push is 'auto')")
        return dg.MaterializeResult(metadata={"pushed": 0, "reason": message})
    auth = execution.auth()  # fails the run at once, naming the missing secret
    outcomes: dict[str, int] = {"accepted": 0, "rejected": 0}
    lines = []
    with warehouse.get_connection() as con:
        tag = newest_model_tag(con)
        pending = unpushed_newest(con, tag) if tag else pd.DataFrame()
        for row in pending.itertuples(index=False):
            body, response, status = push_prediction(con, execution, row, auth)
            outcomes[status] += 1
            lines.append(
                f"| {row.asset} | {body['feature_time']} | {status} | {response.status_code} | {response.text[:120]} |"
            )
            if status == "rejected":
                context.log.warning(f"execution refused the signal of {row.asset}: {response.text[:500]}")
    return dg.MaterializeResult(
        metadata={
            "pushed": outcomes["accepted"],
            "refused": outcomes["rejected"],
            "model_tag": tag or "none",
            "execution": execution.url,
            "signals": dg.MetadataValue.md(
                "| asset | feature_time | outcome | http | answer |\n|---|---|---|---|---|\n"
                + "\n".join(lines)
                if lines
                else "nothing new to push"
            ),
        }
    )


SIGNALS_ASSETS = [predictions, execution_push]
