"""``ml/backtest``: an event-driven backtest of a window, as a Dagster asset.

Pipelines never import execution, so the asset runs ``python -m backtest`` (the same command as
``kimera backtest``) in a subprocess with this process's environment (its KIMERA_HOME and config),
and reads the ``ml.backtests`` row it prints for the materialisation's metadata. The rows
themselves are in ``ml.backtests``, ``ml.backtest_orders``, ``ml.backtest_fills`` and
``ml.backtest_equity``.
"""

import json
import subprocess
import sys

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset

FIGURES = ("total_return", "sharpe", "sortino", "max_drawdown", "win_rate", "turnover", "fees", "gas", "slippage",
           "wf_total_return", "wf_sharpe", "wf_max_drawdown")  # fmt: skip


class BacktestWindow(Config):
    start: str  # first bar close, e.g. "2026-01-01 00:00"
    end: str  # exclusive
    model: str | None = None  # a stored model's tag (default: the promoted one)
    seed: int | None = None
    config_file: str | None = None  # default: the process's kimera.yaml (KIMERA_CONFIG)


def command(window: BacktestWindow) -> list[str]:
    cmd = [sys.executable, "-m", "backtest", "--from", window.start, "--to", window.end, "--json"]
    for flag, value in (("--model", window.model), ("--seed", window.seed), ("--config", window.config_file)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


@asset(key=["ml", "backtest"], group_name="backtest", compute_kind="python")
def backtest_asset(context: AssetExecutionContext, config: BacktestWindow) -> MaterializeResult:
    """Replay the window through the live loop and the execution path; metadata: the run's figures."""
    done = subprocess.run(command(config), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Failure(
            f"python -m backtest failed (exit {done.returncode}): {(done.stderr.strip().splitlines() or [''])[-1]}",
            metadata={"stderr": MetadataValue.text(done.stderr[-4000:])},
        )
    row = json.loads(done.stdout.strip().splitlines()[-1])
    context.log.info(row["difference"])
    metadata = {k: MetadataValue.float(float(row[k])) for k in FIGURES if row.get(k) is not None}
    metadata.update(
        run_id=MetadataValue.text(row["run_id"]),
        model_tag=MetadataValue.text(str(row["model_tag"])),
        window=MetadataValue.text(f"{row['data_start']} .. {row['data_end']}"),
        orders=MetadataValue.int(int(row["orders"])),
        fills=MetadataValue.int(int(row["fills"])),
        events=MetadataValue.int(int(row["events"])),
        per_venue=MetadataValue.json(json.loads(row["per_venue"])),
        difference=MetadataValue.text(row["difference"]),
    )
    return MaterializeResult(metadata=metadata)
