"""The serving job: judge the newest candidate, then build the bento of whatever is promoted."""

from __future__ import annotations

import dagster as dg

SERVING_JOB = "serving"
TRAINING_JOB = "ml_training"  # pipelines/ml/jobs.py: every ML asset of one training partition

serving_job = dg.define_asset_job(
    SERVING_JOB,
    selection=dg.AssetSelection.groups("serving"),
    description="The promotion gate (ml.promotions), then the bento of the promoted model.",
)
