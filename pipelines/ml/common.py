"""What every ML asset shares: the partitions, the run's settings and config, and its artefact folder."""

import warnings
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import pandas as pd
from dagster import AssetExecutionContext

from kimera.config import TIMEFRAME_SECONDS, ModelsConfig, load_config
from kimera.settings import Settings, get_settings
from pipelines.ml.artefacts import RunFolder
from pipelines.ml.partitions import training_end, training_partitions

# one training per partition is the point of BackfillPolicy.multi_run(1); its "beta" notice is noise
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)

PARTITIONS = training_partitions()
GROUP = "ml"
ONE_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)  # each partition is its own retrain
MARTS = [dg.AssetKey(["marts", "features"]), dg.AssetKey(["marts", "labels"])]
SEARCHED = ("lstm", "transformer", "lightgbm")


@dataclass(frozen=True)
class Run:
    settings: Settings
    cfg: ModelsConfig
    folder: RunFolder
    end: datetime
    partition: str
    bar_hours: float  # the features' bar (Sharpe is annualised with it)
    sessions: dict[str, str]  # asset -> session calendar: windows and labels count trading bars


def run_of(context: AssetExecutionContext) -> Run:
    settings = get_settings()
    config = load_config(settings=settings)
    cfg = config.models
    partition = context.partition_key
    folder = RunFolder.of(settings, partition, cfg.horizon)
    bar_hours = TIMEFRAME_SECONDS[config.features.bar] / 3600.0
    return Run(settings, cfg, folder, training_end(context), partition, bar_hours, config.sessions)


def windows_of(run: Run):
    from models.windows import load_windows

    if not run.folder.dataset.is_file():
        raise FileNotFoundError(
            f"{run.folder.dataset} not found: materialise ml/dataset for {run.partition} first"
        )
    return load_windows(run.folder.dataset)


def device_of(run: Run) -> str:
    from models.determinism import resolve_device

    return resolve_device(run.settings.device)


def md_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)
