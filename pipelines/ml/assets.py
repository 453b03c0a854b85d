"""ML assets: dataset -> searches -> models (walk-forward + the model for use) -> ensemble -> evaluations.

Every asset is partitioned by training end (daily): partition D uses only data known before D + 1
day, so a retrain names the data window it learns from. Models go to the BentoML store
(``models.registry``); scores go to ``ml.evaluations`` and show as materialisation metadata.
"""

import base64
import time
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import pandas as pd
from dagster import AssetExecutionContext
from dagster_duckdb import DuckDBResource

from kimera.config import TIMEFRAME_SECONDS, ModelsConfig, load_config
from kimera.settings import Settings, get_settings
from pipelines.ml.artefacts import RunFolder
from pipelines.ml.partitions import training_end, training_partitions

PARTITIONS = training_partitions()
GROUP = "ml"
ONE_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)  # each partition is its own retrain
MARTS = [dg.AssetKey(["marts", "features"]), dg.AssetKey(["marts", "labels"])]
SEARCHED = ("lstm", "transformer", "lightgbm")


@dataclass(frozen=True)
class Run:
    settings: Settings
    cfg: ModelsConfig
    folder: RunFolder
    end: datetime
    partition: str
    bar_hours: float  # the features' bar (Sharpe is annualised with it)


def _run(context: AssetExecutionContext) -> Run:
    settings = get_settings()
    config = load_config(settings=settings)
    cfg = config.models
    partition = context.partition_key
    folder = RunFolder.of(settings, partition, cfg.horizon)
    bar_hours = TIMEFRAME_SECONDS[config.features.bar] / 3600.0
    return Run(settings, cfg, folder, training_end(context), partition, bar_hours)


def _windows(run: Run):
    from models.windows import load_windows

    if not run.folder.dataset.is_file():
        raise FileNotFoundError(
            f"{run.folder.dataset} not found: materialise ml/dataset for {run.partition} first"
        )
    return load_windows(run.folder.dataset)


def _device(run: Run) -> str:
    from models.determinism import resolve_device

    return resolve_device(run.settings.device)


def _md_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


# --- dataset -----------------------------------------------------------------------------------------
@dg.asset(
    key=["ml", "dataset"],
    deps=MARTS,
    partitions_def=PARTITIONS,
    backfill_policy=ONE_PER_RUN,
    group_name=GROUP,
    pool="duckdb",
    description="Input windows from marts.features with targets from marts.labels, as of the training end.",
)
def dataset(context: AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    from models.marts import read_marts
    from models.walk_forward import evaluation_folds
    from models.windows import make_windows, save_windows

    run = _run(context)
    with warehouse.get_connection() as con:
        marts = read_marts(con, run.cfg.horizon, run.cfg.features or None, end=run.end)
    windows = make_windows(marts, run.cfg.seq_len)
    folds = evaluation_folds(windows, run.cfg)  # fails here, clearly, when there is too little data
    run.folder.root.mkdir(parents=True, exist_ok=True)
    save_windows(windows, run.folder.dataset)
    run.folder.write_json(
        run.folder.root / "folds.json",
        [{"window": f.number, "fit": f.fit, "val": f.val, "test": f.test} for f in folds],
    )
    fold_table = pd.DataFrame(
        [
            {
                "window": f.number,
                "train_start": str(f.fit[0]),
                "val_start": str(f.val[0]),
                "test_start": str(f.test[0]),
                "test_end": str(f.test[1]),
            }
            for f in folds
        ]  # fmt: skip
    )
    return dg.MaterializeResult(
        metadata={
            "training_end": run.end.isoformat(),
            "windows": len(windows),
            "labelled_windows": int(windows.labelled.sum()),
            "assets": sorted(set(windows.asset.tolist())),
            "features": list(windows.feature_names),
            "seq_len": windows.seq_len,
            "horizon": windows.horizon,
            "first_bar": str(windows.bar_time.min()),
            "last_bar": str(windows.bar_time.max()),
            "dropped": windows.dropped,
            "walk_forward_windows": dg.MetadataValue.md(_md_table(fold_table)),
            "path": dg.MetadataValue.path(str(run.folder.dataset)),
        }
    )


# --- hyperparameter searches ---------------------------------------------------------------------------
def _masked(url: str) -> str:
    """The storage URL without its password (it never reaches logs or metadata)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _search_asset(kind: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{kind}_search",
        key_prefix=["ml"],
        deps=[dg.AssetKey(["ml", "dataset"])],
        partitions_def=PARTITIONS,
        backfill_policy=ONE_PER_RUN,
        group_name=GROUP,
        description=f"Optuna search of the {kind} hyperparameters, pruned on inner walk-forward folds "
        "of the first evaluation window's training data.",
    )
    def _search(context: AssetExecutionContext) -> dg.MaterializeResult:
        from models.hpo import search, storage_url, tuning_windows

        run = _run(context)
        storage = storage_url(run.cfg, run.settings.optuna_storage)
        study = f"kimera-{kind}-h{run.cfg.horizon}-{run.partition}"
        result = search(
            kind, tuning_windows(_windows(run), run.cfg), run.cfg, storage, study, device=_device(run)
        )
        run.folder.write_json(run.folder.params_path(kind), result.params)
        return dg.MaterializeResult(
            metadata={
                "study": study,
                "storage": _masked(storage),
                "chosen": result.chosen,
                "params_used": dg.MetadataValue.json(result.params),
                "best_log_loss": result.best_value,
                "default_log_loss": result.default_value,
                "improvement_z": result.improvement_z,
                "best_params": dg.MetadataValue.json(result.best_params),
                "trials": result.trials,
                "pruned": result.pruned,
                "complete": result.complete,
            }
        )

    return _search


# --- models ----------------------------------------------------------------------------------------------
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


def _member_asset(kind: str) -> dg.AssetsDefinition:
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

        run = _run(context)
        windows = _windows(run)
        params = (
            run.folder.read_json(run.folder.params_path(kind), f"ml/{kind}_search")
            if kind in SEARCHED
            else None
        )
        device = _device(run)
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
                "fits": dg.MetadataValue.md(_md_table(logs)),
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

    run = _run(context)
    windows = _windows(run)
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

    run = _run(context)
    windows = _windows(run)
    walk = run_ensemble([MemberRun(k, run.folder.read_predictions(k)) for k in MEMBERS], run.cfg)
    run.folder.write_predictions("ensemble", walk.predictions)
    members = {
        k: load_model(run.folder.read_json(run.folder.final_path(k), f"ml/{k}")["tag"]) for k in MEMBERS
    }
    final = final_ensemble(members, windows, run.cfg)
    metrics = _pooled(walk.predictions, run)
    tag = _save_final(run, final, metrics, windows)
    weights = pd.DataFrame(walk.logs).drop(columns="model")
    return dg.MaterializeResult(
        metadata={
            "model_tag": tag,
            "weights_for_use": dg.MetadataValue.json(final.weights),
            "walk_forward_weights": dg.MetadataValue.md(_md_table(weights)),
            "test_metrics": dg.MetadataValue.json(metrics),
        }
    )


# --- evaluation -------------------------------------------------------------------------------------------
def _embedded(path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"![{path.stem}](data:image/png;base64,{data})"


@dg.asset(
    key=["ml", "evaluations"],
    deps=[dg.AssetKey(["ml", "baselines"]), dg.AssetKey(["ml", "ensemble"])],
    partitions_def=PARTITIONS,
    backfill_policy=ONE_PER_RUN,
    group_name=GROUP,
    pool="duckdb",
    description="Scores of every model and baseline on the walk-forward test windows (ml.evaluations), "
    "mean ± std over seeds, with equity, predicted-vs-realised and calibration plots.",
)
def evaluations(context: AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
    from ulid import ULID

    from models import plots
    from models.evaluation import evaluate, format_summary, summarise
    from models.registry import code_version
    from models.store import write_evaluations, write_predictions
    from models.walk_forward import ALL_MODELS

    run = _run(context)
    cfg = run.cfg
    predictions = pd.concat([run.folder.read_predictions(m) for m in ALL_MODELS], ignore_index=True)
    per_window = evaluate(predictions, cfg.horizon, cfg.fee_bps, run.bar_hours)
    summary = summarise(predictions, cfg.horizon, cfg.fee_bps, run.bar_hours)
    folds = {
        f["window"]: (f["fit"][0], f["val"][1])
        for f in run.folder.read_json(run.folder.root / "folds.json", "ml/dataset")
    }
    run_id = str(ULID())
    with warehouse.get_connection() as con:
        rows = write_evaluations(
            con, per_window, run_id=run_id, training_end=run.end, horizon=cfg.horizon, fee_bps=cfg.fee_bps,
            code_version=code_version(), folds=folds,
        )  # fmt: skip
        write_predictions(con, predictions, training_end=run.end, horizon=cfg.horizon)
    report = run.settings.report_dir / "ml" / run.partition
    seed = cfg.seeds[0]
    pngs = [
        plots.equity_curves(
            predictions, cfg.horizon, cfg.fee_bps, report / "equity.png", seed, run.bar_hours
        ),
        plots.predicted_vs_realised(predictions, "ensemble", report / "predicted_vs_realised.png"),
        plots.calibration(
            predictions, ["ensemble", "lstm", "transformer", "linear", "lightgbm"], report / "calibration.png"
        ),
    ]
    table = format_summary(summary, list(ALL_MODELS))
    (report / "summary.md").write_text(table + "\n")
    return dg.MaterializeResult(
        metadata={
            "run_id": run_id,
            "rows_written": rows,
            "summary": dg.MetadataValue.md(table),
            "ensemble_accuracy": float(summary.set_index("model").loc["ensemble", "accuracy"]),
            "ensemble_sharpe": float(summary.set_index("model").loc["ensemble", "sharpe"]),
            "test_bars": int(summary["n"].max()),
            "plots": dg.MetadataValue.md("\n\n".join(_embedded(p) for p in pngs)),
            **{f"plot_{p.stem}": dg.MetadataValue.path(str(p)) for p in pngs},
        }
    )


ML_ASSETS = [
    dataset,
    *(_search_asset(k) for k in SEARCHED),
    *(_member_asset(k) for k in ("lstm", "transformer", "linear", "lightgbm")),
    baselines,
    ensemble,
    evaluations,
]

__all__ = ["ML_ASSETS", "PARTITIONS"]
