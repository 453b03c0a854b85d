"""``kimera backtest`` and ``python -m backtest``: one run, its rows stored, its figures printed."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path


def backtest_cli(
    start: datetime,
    end: datetime,
    model_tag: str | None = None,
    config_path: Path | None = None,
    seed: int | None = None,
    order_style: str = "taker",
    as_json: bool = False,
    echo=print,
) -> dict:
    """Run, store and print one backtest; returns its ``ml.backtests`` row."""
    from backtest.run import run_backtest, summary
    from kimera.config import load_config
    from kimera.settings import prepare_home

    settings = prepare_home()
    config = load_config(config_path, settings=settings)
    seed = config.sim.seed if seed is None else seed
    result = run_backtest(
        settings, config, start, end, model_tag=model_tag, seed=seed, order_style=order_style
    )
    if as_json:
        echo(json.dumps(result.run, default=str, sort_keys=True))
    else:
        for line in summary(result):
            echo(line)
        echo(
            f"  rows in ml.backtests / ml.backtest_orders / ml.backtest_fills, run_id = '{result.run['run_id']}'"
        )
        echo(f"  journal: {result.journal}")
    return result.run
