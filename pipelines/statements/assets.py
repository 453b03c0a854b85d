"""``statements/daily``: the day's statement of every account, written by ``kimera statement``.

The journal belongs to the execution service, which the pipelines never import (docs/contracts.md):
the asset runs the command line in a subprocess, which reads the journal read-only and writes
``KIMERA_HOME/statements/<account>/<day>.{html,pdf}``.
"""

import json
import subprocess
import sys

import dagster as dg
from dagster import AssetExecutionContext

from kimera.config import KimeraConfig
from kimera.settings import get_settings
from pipelines.resources import KimeraResource


class StatementFailed(RuntimeError):
    pass


def statement_partitions(config: KimeraConfig) -> dg.DailyPartitionsDefinition:
    """One partition per UTC day from the config's ``start``."""
    return dg.DailyPartitionsDefinition(start_date=config.start.isoformat(), timezone="UTC")


def run_statement(day: str, config_path: str, timeout_s: float = 300.0) -> list[dict]:
    """``kimera statement --day DAY --json`` against the config at ``config_path``; what it wrote."""
    env = get_settings().tool_environment()
    env["KIMERA_CONFIG"] = config_path
    done = subprocess.run(
        [sys.executable, "-m", "kimera", "statement", "--day", day, "--json"],
        env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise StatementFailed(
            f"kimera statement --day {day} failed ({done.returncode}): {done.stderr.strip()}"
        )
    return json.loads(done.stdout)


def build_statement_asset(config: KimeraConfig) -> dg.AssetsDefinition:
    @dg.asset(
        key=["statements", "daily"],
        partitions_def=statement_partitions(config),
        group_name="statements",
        kinds={"html", "pdf"},
        description="Each account's daily statement: positions, P&L, fees and gas, every fill, best execution.",
    )
    def daily_statements(context: AssetExecutionContext, kimera: KimeraResource) -> dg.MaterializeResult:
        day = context.partition_time_window.start.date().isoformat()
        done = run_statement(day, kimera.config_path)
        context.log.info("statements of %s: %s", day, ", ".join(d["account"] for d in done))
        return dg.MaterializeResult(
            metadata={
                "accounts": [d["account"] for d in done],
                "fills": sum(d["fills"] for d in done),
                "day_pnl": {d["account"]: d["day_pnl"] for d in done},
                "pdf": [d["pdf"] for d in done],
                "html": [d["html"] for d in done],
            }
        )

    return daily_statements
