"""``ml/dataset``: input windows from the marts as of the partition's training end."""

import dagster as dg
import pandas as pd
from dagster import AssetExecutionContext
from dagster_duckdb import DuckDBResource

from pipelines.ml.common import (
    GROUP,
    MARTS,
    ONE_PER_RUN,
    PARTITIONS,
    md_table,
    run_of,
)


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
    from models.columns import describe_dropped
    from models.marts import read_marts
    from models.walk_forward import evaluation_folds
    from models.windows import make_windows, save_windows

    run = run_of(context)
    with _marts_connection(warehouse) as con:
        marts = read_marts(con, run.cfg.horizon, run.cfg.features or None, end=run.end, sessions=run.sessions)
    if marts.dropped_features:
        context.log.warning(describe_dropped(marts.dropped_features))
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
            "features_left_out": dg.MetadataValue.json(marts.dropped_features),
            "seq_len": windows.seq_len,
            "horizon": windows.horizon,
            "first_bar": str(windows.bar_time.min()),
            "last_bar": str(windows.bar_time.max()),
            "dropped": windows.dropped,
            "walk_forward_windows": dg.MetadataValue.md(md_table(fold_table)),
            "path": dg.MetadataValue.path(str(run.folder.dataset)),
        }
    )


def _marts_connection(warehouse: DuckDBResource):
    """Where the marts are read: on the lake (``KIMERA_LAKE_URL``) its mart files, the record any
    machine can train from; else the warehouse file."""
    from pipelines.lake.resource import LakeWarehouseResource

    if isinstance(warehouse, LakeWarehouseResource):
        return warehouse.marts_reader()
    return warehouse.get_connection()
