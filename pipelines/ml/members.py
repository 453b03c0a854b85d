"""``ml/<model>``, ``ml/baselines``, ``ml/ensemble``: walk-forward predictions and the models for use."""

import time
from datetime import datetime

import dagster as dg
import pandas as pd
from dagster import AssetExecutionContext

from pipelines.ml.common import (
    GROUP,
    ONE_PER_RUN,
    PARTITIONS,
    SEARCHED,
    Run,
    device_of,
    md_table,
    run_of,
    windows_of,
)


def _pooled(predictions: pd.DataFrame, run: Run) -> dict[str, float]:
    from models.evaluation import summarise

    row = summarise(predictions, run.cfg.horizon, run.cfg.fee_bps, run.bar_hours).iloc[0]
    keys = ("accuracy", "ic", "rank_ic", "log_loss", "coverage", "sharpe", "max_drawdown", "win_rate")
    out = {k: float(row[k]) for k in keys}
    out.update({f"{k}_std": float(row[f"{k}_std"]) for k in ("accuracy", "sharpe")})
    out["test_bars"] = int(row["n"])
    return out


def _save_final(run: Run, model, metrics: dict, windows) -> str:
    from models.registry import save_model
    from models.walk_forward import final_fold

    fold = final_fold(windows, run.cfg)
    stored = save_model(
        model,
        data_window=(fold.train_start.astype(datetime), fold.train_end.astype(datetime)),
        metrics=metrics,
        seeds=list(run.cfg.seeds),
        labels={"partition": run.partition},
        extra={"training_end": run.end, "fee_bps": run.cfg.fee_bps},
    )
    run.folder.write_json(run.folder.final_path(model.kind), {"tag": stored.tag})
    return stored.tag


def member_asset(kind: str) -> dg.AssetsDefinition:
    deps = [dg.AssetKey(["ml", "dataset"])]
    if kind in SEARCHED:
        deps.append(dg.AssetKey(["ml", f"{kind}_search"]))

    @dg.asset(
        name=kind,
        key_prefix=["ml"],
        deps=deps,
        partitions_def=PARTITIONS,
        backfill_policy=ONE_PER_RUN,
        group_name=GROUP,
        description=f"The {kind} model: walk-forward predictions over every seed, and the model for use "
        "(trained on the newest training window) saved to the BentoML store.",
    )
    def _member(context: AssetExecutionContext) -> dg.MaterializeResult:
        from models.walk_forward import evaluation_folds, run_member, train_final_member

        run = run_of(context)
        windows = windows_of(run)
        params = (
            run.folder.read_json(run.folder.params_path(kind), f"ml/{kind}_search")
            if kind in SEARCHED
            else None
        )
        device = device_of(run)
        walk = run_member(kind, windows, evaluation_folds(windows, run.cfg), run.cfg, params, device)
        run.folder.write_predictions(kind, walk.predictions)
        started = time.perf_counter()
        final = train_final_member(kind, windows, run.cfg, params, device)
        final_seconds = time.perf_counter() - started
        metrics = _pooled(walk.predictions, run)
        tag = _save_final(run, final, metrics, windows)
        logs = pd.DataFrame(walk.logs)
        return dg.MaterializeResult(
            metadata={
                "model_tag": tag,
                "walk_forward_seconds": round(walk.train_seconds, 2),
                "final_fit_seconds": round(final_seconds, 2),
                "params": dg.MetadataValue.json(final.params),
                "test_metrics": dg.MetadataValue.json(metrics),
                "fits": dg.MetadataValue.md(md_table(logs)),
                "device": device,
            }
        )

    return _member


@dg.asset(
    key=["ml", "baselines"],
    deps=[dg.AssetKey(["ml", "dataset"])],
    partitions_def=PARTITIONS,
    backfill_policy=ONE_PER_RUN,
    group_name=GROUP,
    description="Walk-forward predictions of the baselines: always up, and persistence of the last return.",
)
def baselines(context: AssetExecutionContext) -> dg.MaterializeResult:
    from models.walk_forward import BASELINES, evaluation_folds, run_member

    run = run_of(context)
    windows = windows_of(run)
    folds = evaluation_folds(windows, run.cfg)
    metrics = {}
    for kind in BASELINES:
        walk = run_member(kind, windows, folds, run.cfg)
        run.folder.write_predictions(kind, walk.predictions)
        metrics[kind] = _pooled(walk.predictions, run)
    return dg.MaterializeResult(metadata={"test_metrics": dg.MetadataValue.json(metrics)})


@dg.asset(
    key=["ml", "ensemble"],
    deps=[dg.AssetKey(["ml", k]) for k in ("lstm", "transformer", "linear", "lightgbm")],
    partitions_def=PARTITIONS,
    backfill_policy=ONE_PER_RUN,
    group_name=GROUP,
    description="The ensemble of LSTM, Transformer, linear and LightGBM, weights fit on validation data "
    "inside each training window; walk-forward predictions and the ensemble for use.",
)
def ensemble(context: AssetExecutionContext) -> dg.MaterializeResult:
    from models.registry import load_model
    from models.walk_forward import MEMBERS, MemberRun, final_ensemble, run_ensemble

    run = run_of(context)
    windows = windows_of(run)
    member_runs = [MemberRun(k, run.folder.read_predictions(k)) for k in MEMBERS]
    walk = run_ensemble(member_runs, run.cfg)
    run.folder.write_predictions("ensemble", walk.predictions)
    members = {
        k: load_model(run.folder.read_json(run.folder.final_path(k), f"ml/{k}")["tag"]) for k in MEMBERS
    }
    final = final_ensemble(members, windows, run.cfg, history=member_runs)
    metrics = _pooled(walk.predictions, run)
    tag = _save_final(run, final, metrics, windows)
    weights = pd.DataFrame(walk.logs).drop(columns="model")
    return dg.MaterializeResult(
        metadata={
            "model_tag": tag,
            "weights_for_use": dg.MetadataValue.json(final.weights),
            "walk_forward_weights": dg.MetadataValue.md(md_table(weights)),
            "test_metrics": dg.MetadataValue.json(metrics),
        }
    )
