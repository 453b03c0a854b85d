"""One stage of ``kimera bench scale`` at one size, in a process of its own (so the parent can read
its peak memory from the kernel): ``python -m bench._scale_stage STAGE HOME DAYS``.

Stages share ``HOME`` (a temporary KIMERA_HOME): ``ingest`` writes the simulator's raw tables for
``DAYS`` days into its warehouse, ``features`` builds the dbt marts from them, ``training`` fits
the models on one walk-forward fold over all of it and writes their predictions, ``backtest`` trades
those predictions. ``idle`` imports what the stages import and does nothing (the memory floor).
Prints one JSON line: the stage's seconds (imports excluded) and what it made.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kimera.config import ModelsConfig, load_config

KINDS = ("lightgbm", "lstm")


def training_config() -> ModelsConfig:
    """Small networks, one seed: the curve's shape, not the demo's accuracy, is measured."""
    return ModelsConfig.model_validate(
        {
            "seq_len": 12,
            "seeds": [0],
            "max_epochs": 6,
            "patience": 2,
            "threads": 1,
            "lstm": {"hidden": 16},
            "lightgbm": {"n_estimators": 150},
        }
    )


def ingest(home: Path, days: int) -> dict:
    from pipelines.features.sim_data import load_sim_reference, load_sim_window

    config = load_config()
    start = config.start_time
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        load_sim_reference(con, config)
        written = load_sim_window(con, config, start, start + timedelta(days=days))
    return {"rows": sum(written.values())}


def features(home: Path, days: int) -> dict:
    from pipelines.features.dbt_cli import run_dbt
    from pipelines.features.project import dbt_vars

    run_dbt(
        ["build", "--full-refresh", "--exclude-resource-type", "unit_test"],
        home=home,
        dbt_vars=dbt_vars(load_config()),
    )
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {"rows": con.execute("SELECT count(*) FROM marts.features").fetchone()[0]}


def training(home: Path, days: int) -> dict:
    from models.marts import read_marts
    from models.splits import WalkForward
    from models.walk_forward import run_member
    from models.windows import make_windows

    cfg = training_config()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        windows = make_windows(read_marts(con, cfg.horizon), cfg.seq_len)
    times = np.unique(windows.bar_time)
    n = len(times) - (cfg.horizon + 1) * 2
    # one fold over all the data (60 / 10 / 30 %), so the work grows with the size
    scheme = WalkForward(
        train_bars=int(n * 0.6), val_bars=int(n * 0.1), test_bars=int(n * 0.3), horizon=cfg.horizon
    )
    folds = scheme.folds(times, max_folds=1)
    frames = [run_member(kind, windows, folds, cfg, seeds=[0]).predictions for kind in KINDS]
    pd.concat(frames, ignore_index=True).to_parquet(home / "predictions.parquet")
    return {"rows": int(len(windows.bar_time))}


def backtest(home: Path, days: int) -> dict:
    from models.strategy import backtest as run_backtest

    cfg = training_config()
    predictions = pd.read_parquet(home / "predictions.parquet")
    tested = predictions[predictions["part"] == "test"]
    fee_bps = 10.0
    results = {kind: run_backtest(rows, cfg.horizon, fee_bps) for kind, rows in tested.groupby("model")}
    return {"rows": int(len(tested)), "sharpe": {k: round(r.sharpe, 3) for k, r in results.items()}}


def replay(home: Path, days: int) -> dict:
    """``kimera backtest``'s event-driven replay of the whole window (books, trades, swaps, blocks
    through the online features, a promoted linear model, the live trader, risk, router and fill
    model), as ``kimera bench backtest`` calls it; the daily loss limit is lifted so it trades throughout."""
    import asyncio

    import yaml

    from backtest.run import CHUNK_BARS
    from backtest.run import replay as run_replay
    from bench.live import _promote_linear
    from kimera.settings import Settings
    from pipelines.features.online_sql import compile_online_features

    data = yaml.safe_load((Path(__file__).resolve().parent.parent / "kimera.yaml").read_text())
    data["execution"] = {"risk": {"daily_loss_limit": 1e9}}
    config_path = home / "replay.yaml"
    config_path.write_text(yaml.safe_dump(data))
    config = load_config(config_path)
    settings = Settings(home=home, config=config_path)
    start = config.start_time
    compiled = compile_online_features(config, home / "compiled", window_bars=CHUNK_BARS)
    _promote_linear(settings, start)
    began = time.perf_counter()
    result = asyncio.run(
        run_replay(
            settings, config, compiled, start, start + timedelta(days=days), seed=7, code_version="bench"
        )
    )
    return {
        "rows": int(result.run["events"]),
        "bars": int(result.run["bars"]),
        "orders": int(result.run["orders"]),
        "replay_seconds": time.perf_counter() - began,
    }


def idle(home: Path, days: int) -> dict:
    # the heavy libraries the stages load (dbt, torch, lightgbm), nothing run
    import lightgbm  # noqa: F401
    import torch  # noqa: F401
    from dbt.cli.main import dbtRunner  # noqa: F401

    import models.walk_forward  # noqa: F401
    import pipelines.features.sim_data  # noqa: F401

    return {"rows": 0}


STAGES = {
    "ingest": ingest,
    "features": features,
    "training": training,
    "backtest": backtest,
    "replay": replay,
    "idle": idle,
}


def main(stage: str, home: str, days: str) -> None:
    began = time.perf_counter()
    made = STAGES[stage](Path(home), int(days))
    print(json.dumps({"seconds": time.perf_counter() - began, **made}))


if __name__ == "__main__":
    main(*sys.argv[1:])
