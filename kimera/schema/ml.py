"""The ``ml`` schema's tables: their columns, types and keys, in one contract beside ``raw.*``.

Writers (``models.store``, ``models.promotion_store``, ``pipelines.signals.store``) create them with
these statements; readers (the report, ``kimera sql``) rely on the same columns.

* ``ml.evaluations``: one row per (training_end, horizon, model, window, seed) with
  :data:`EVALUATION_METRICS`; ``ml.walk_forward_predictions``: the test rows they were scored on.
* ``ml.promotions``: every decision of the promotion gate, with :data:`PROMOTION_FIGURES` of both models.
* ``ml.predictions``: what the served model said, keyed by (model_tag, asset, feature_time, horizon);
  ``ml.signal_pushes``: each push to the execution service, by prediction_id.
"""

from __future__ import annotations

# What models.evaluation.score returns per (model, window, seed); columns of ml.evaluations.
EVALUATION_METRICS = [
    "n", "accuracy", "accuracy_se", "ic", "rank_ic", "log_loss", "brier", "coverage", "interval_width", "rmse",
    "sharpe", "sharpe_se", "max_drawdown", "win_rate", "turnover", "total_return", "exposure",
]  # fmt: skip

# The figures the promotion gate compares (models.promotion); a candidate_ and incumbent_ column each.
PROMOTION_FIGURES = ("log_loss", "accuracy", "ic", "sharpe", "coverage")

EVALUATIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS ml.evaluations (
  run_id VARCHAR NOT NULL,
  training_end TIMESTAMP NOT NULL,
  horizon INTEGER NOT NULL,
  model VARCHAR NOT NULL,
  "window" INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  train_start TIMESTAMP,
  train_end TIMESTAMP,
  test_start TIMESTAMP,
  test_end TIMESTAMP,
  {", ".join(f'"{m}" {"BIGINT" if m == "n" else "DOUBLE"}' for m in EVALUATION_METRICS)},
  fee_bps DOUBLE,
  code_version VARCHAR,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (training_end, horizon, model, "window", seed)
)"""

WALK_FORWARD_PREDICTIONS_DDL = """
CREATE TABLE IF NOT EXISTS ml.walk_forward_predictions (
  training_end TIMESTAMP NOT NULL,
  horizon INTEGER NOT NULL,
  model VARCHAR NOT NULL,
  seed INTEGER NOT NULL,
  "window" INTEGER NOT NULL,
  asset VARCHAR NOT NULL,
  bar_time TIMESTAMP NOT NULL,
  forecast DOUBLE,
  lower DOUBLE,
  upper DOUBLE,
  p_up DOUBLE,
  position DOUBLE,
  fwd_ret DOUBLE,
  PRIMARY KEY (training_end, horizon, model, seed, "window", asset, bar_time)
)"""


PROMOTIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS ml.promotions (
  promotion_id VARCHAR PRIMARY KEY,
  decided_at TIMESTAMP NOT NULL,
  candidate_tag VARCHAR NOT NULL,
  candidate_data_end TIMESTAMP NOT NULL,
  incumbent_tag VARCHAR,
  decision VARCHAR NOT NULL,
  reason VARCHAR NOT NULL,
  horizon INTEGER NOT NULL,
  window_start TIMESTAMP,
  window_end TIMESTAMP,
  bars INTEGER NOT NULL,
  improvement DOUBLE,
  improvement_se DOUBLE,
  {", ".join(f"candidate_{f} DOUBLE, incumbent_{f} DOUBLE" for f in PROMOTION_FIGURES)},
  min_improvement DOUBLE NOT NULL,
  z DOUBLE NOT NULL,
  min_bars INTEGER NOT NULL,
  code_version VARCHAR
)"""


PREDICTIONS_DDL = """
CREATE TABLE IF NOT EXISTS ml.predictions (
  prediction_id VARCHAR NOT NULL UNIQUE,
  model_tag VARCHAR NOT NULL,
  asset VARCHAR NOT NULL,
  feature_time TIMESTAMP NOT NULL,
  horizon INTEGER NOT NULL,
  forecast DOUBLE NOT NULL,
  lower DOUBLE NOT NULL,
  upper DOUBLE NOT NULL,
  p_up DOUBLE NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (model_tag, asset, feature_time, horizon)
)"""

SIGNAL_PUSHES_DDL = """
CREATE TABLE IF NOT EXISTS ml.signal_pushes (
  prediction_id VARCHAR PRIMARY KEY,
  signal_id VARCHAR NOT NULL,
  url VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  http_status INTEGER,
  detail VARCHAR,
  sent_at TIMESTAMP NOT NULL,
  answered_at TIMESTAMP
)"""


ML_DDL = (
    EVALUATIONS_DDL,
    WALK_FORWARD_PREDICTIONS_DDL,
    PROMOTIONS_DDL,
    PREDICTIONS_DDL,
    SIGNAL_PUSHES_DDL,
)
