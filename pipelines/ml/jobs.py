"""The training job: every ML asset for one training partition (what a retrain runs)."""

from __future__ import annotations

import dagster as dg

from pipelines.ml.assets import PARTITIONS

TRAIN_JOB = "ml_training"

ml_training_job = dg.define_asset_job(
    TRAIN_JOB,
    selection=dg.AssetSelection.groups("ml"),
    partitions_def=PARTITIONS,
    description="Dataset, searches, every model, the ensemble and the evaluation for one training end.",
)
