"""``ml/evaluations``: scores of every model on the walk-forward test windows, stored and plotted."""

import base64

import dagster as dg
import pandas as pd
from dagster import AssetExecutionContext
from dagster_duckdb import DuckDBResource

from pipelines.ml.common import (
    GROUP,
    ONE_PER_RUN,
    PARTITIONS,
    run_of,
)

PLOTTED = ["ensemble", "lstm", "transformer", "linear", "lightgbm"]  # calibration curves drawn


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

    run = run_of(context)
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
    # the walk-forward test rows with a realised return, as the report draws them (one panel per model)
    test = predictions[predictions["part"] == "test"].dropna(subset=["fwd_ret"]).assign(source="test")
    pngs = [
        plots.equity_curves(
            predictions, cfg.horizon, cfg.fee_bps, report / "equity.png", seed, run.bar_hours
        ),
        plots.predicted_vs_realised(
            test[test["model"] == "ensemble"], report / "predicted_vs_realised.png", max_panels=1
        ),
        plots.calibration(test[test["model"].isin(PLOTTED)], report / "calibration.png"),
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
