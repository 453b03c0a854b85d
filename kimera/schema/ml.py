"""The ``ml`` schema's tables: their columns, types and keys, in one contract beside ``raw.*``.

Writers (``models.store``, ``models.promotion_store``, ``pipelines.signals.store``) create them with
these statements; readers (the report, ``kimera sql``) rely on the same columns.

* ``ml.evaluations``: one row per (training_end, horizon, model, window, seed) with
  :data:`EVALUATION_METRICS`; ``ml.walk_forward_predictions``: the test rows they were scored on.
* ``ml.promotions``: every decision of the promotion gate, with :data:`PROMOTION_FIGURES` of both models.
* ``ml.oracle_scores``: on the simulator's data, each model's hit rate beside the Bayes oracle's on
  the same test bars, and the recovery of the Bayes edge (``pipelines.ml.oracle``).
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

ORACLE_SCORES_DDL = """
CREATE TABLE IF NOT EXISTS ml.oracle_scores (
  training_end TIMESTAMP NOT NULL,
  horizon INTEGER NOT NULL,
  model VARCHAR NOT NULL,
  bars BIGINT,
  hit DOUBLE,
  hit_std DOUBLE,
  oracle_hit DOUBLE,
  bayes_accuracy DOUBLE,
  agreement DOUBLE,
  recovery DOUBLE,
  recovery_se DOUBLE,
  expected_hit DOUBLE,
  expected_recovery DOUBLE,
  signal_strength DOUBLE,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (training_end, horizon, model)
)"""


# Event-driven backtests (``backtest``): one row per run, its orders and fills, and its equity by bar.
# No wall-clock column: the same inputs and seed give byte-identical rows.
BACKTESTS_DDL = """
CREATE TABLE IF NOT EXISTS ml.backtests (
  run_id VARCHAR PRIMARY KEY,
  model_tag VARCHAR,
  code_version VARCHAR NOT NULL,
  data_start TIMESTAMP NOT NULL,
  data_end TIMESTAMP NOT NULL,
  seed BIGINT NOT NULL,
  config VARCHAR NOT NULL,
  input_partitions VARCHAR NOT NULL,
  bars INTEGER NOT NULL,
  events BIGINT NOT NULL,
  decisions INTEGER NOT NULL,
  orders INTEGER NOT NULL,
  fills INTEGER NOT NULL,
  total_return DOUBLE,
  sharpe DOUBLE,
  sortino DOUBLE,
  max_drawdown DOUBLE,
  win_rate DOUBLE,
  turnover DOUBLE,
  fees DOUBLE,
  gas DOUBLE,
  slippage DOUBLE,
  per_venue VARCHAR NOT NULL,
  wf_total_return DOUBLE,
  wf_sharpe DOUBLE,
  wf_max_drawdown DOUBLE,
  difference VARCHAR NOT NULL
)"""

BACKTEST_ORDERS_DDL = """
CREATE TABLE IF NOT EXISTS ml.backtest_orders (
  run_id VARCHAR NOT NULL,
  order_id VARCHAR NOT NULL,
  decision_id VARCHAR NOT NULL,
  venue VARCHAR NOT NULL,
  symbol VARCHAR NOT NULL,
  side VARCHAR NOT NULL,
  amount DOUBLE NOT NULL,
  limit_price DOUBLE,
  tif VARCHAR NOT NULL,
  decided_at TIMESTAMP NOT NULL,
  arrive_at TIMESTAMP NOT NULL,
  arrival_price DOUBLE NOT NULL,
  filled DOUBLE NOT NULL,
  average_price DOUBLE,
  fee DOUBLE NOT NULL,
  gas DOUBLE NOT NULL,
  status VARCHAR NOT NULL,
  reason VARCHAR,
  PRIMARY KEY (run_id, order_id)
)"""

BACKTEST_FILLS_DDL = """
CREATE TABLE IF NOT EXISTS ml.backtest_fills (
  run_id VARCHAR NOT NULL,
  fill_id VARCHAR NOT NULL,
  order_id VARCHAR NOT NULL,
  venue VARCHAR NOT NULL,
  symbol VARCHAR NOT NULL,
  side VARCHAR NOT NULL,
  ts TIMESTAMP NOT NULL,
  price DOUBLE NOT NULL,
  amount DOUBLE NOT NULL,
  fee DOUBLE NOT NULL,
  gas DOUBLE NOT NULL,
  liquidity VARCHAR NOT NULL,
  block_number BIGINT,
  PRIMARY KEY (run_id, fill_id)
)"""

BACKTEST_EQUITY_DDL = """
CREATE TABLE IF NOT EXISTS ml.backtest_equity (
  run_id VARCHAR NOT NULL,
  bar_time TIMESTAMP NOT NULL,
  equity DOUBLE NOT NULL,
  exposure DOUBLE NOT NULL,
  PRIMARY KEY (run_id, bar_time)
)"""


ML_DDL = (
    EVALUATIONS_DDL,
    WALK_FORWARD_PREDICTIONS_DDL,
    PROMOTIONS_DDL,
    PREDICTIONS_DDL,
    SIGNAL_PUSHES_DDL,
    ORACLE_SCORES_DDL,
    BACKTESTS_DDL,
    BACKTEST_ORDERS_DDL,
    BACKTEST_FILLS_DDL,
    BACKTEST_EQUITY_DDL,
)
