"""``ml/<model>_search``: optuna searches of the LSTM, Transformer and LightGBM hyperparameters."""

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.ml.common import (
    GROUP,
    ONE_PER_RUN,
    PARTITIONS,
    device_of,
    run_of,
    windows_of,
)


def _masked(url: str) -> str:
    """The storage URL without its password (it never reaches logs or metadata)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def search_asset(kind: str) -> dg.AssetsDefinition:
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

        run = run_of(context)
        storage = storage_url(run.cfg, run.settings.optuna_storage)
        study = f"kimera-{kind}-h{run.cfg.horizon}-{run.partition}"
        result = search(
            kind, tuning_windows(windows_of(run), run.cfg), run.cfg, storage, study, device=device_of(run)
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
