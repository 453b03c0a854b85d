"""Cost curves: ingest, features, training and backtest at 1x, 4x and 16x the work, each stage's
time and peak memory, the fitted growth exponent, and the first stage to outgrow one machine.

Work is asset-venue-days: 1x is the demo's 2 assets x 3 venues x ``demo_days`` (``--quick``: x 10
days); 4x and 16x take 4 and 16 times the days (the simulator makes any size; rows and bars grow
linearly with each of the three factors, the cross-section width is not varied). Each stage runs
in a process of its own (``bench/_scale_stage.py``) at the settings that ship (features as
``kimera.yaml`` sets them); its time excludes imports, its peak memory is the kernel's maximum
resident set of that process, and the floor beside it is a process that imports the same
libraries and does nothing. Growth exponents are the slopes of log time and log peak memory
against log size between 4x and 16x, where fixed costs (imports, dbt's parse) weigh least. At
these sizes fixed costs still dominate some stages (exponents well below 1), and a power law fitted
there would promise that they never grow; so projections use a stated model instead: a fixed cost
plus a cost proportional to the work, both from the 4x and 16x runs. (Where the measured exponent
is above 1 the projection is optimistic.) A stage outgrows the machine (2 cores, 24 GB) where its
projected full run takes longer than an hour or its projected peak memory passes 24 GB.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import Measure

STAGES = ("ingest", "features", "training", "backtest", "replay")
SIZES = (1, 4, 16)
ASSETS, VENUES = 2, 3
MEMORY_LIMIT_MB = 24 * 1024
TIME_LIMIT_S = 3600.0
# The size a user asks about in docs/scaling-out.md: 1,000 assets x 5 venues x 3 years.
MODEL_SIZE = 1000 * 5 * 3 * 365
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StageRun:
    """One stage at one size: seconds (imports excluded) and peak resident memory (MB)."""

    stage: str
    size: int
    seconds: float
    peak_mb: float


def fit_exponent(sizes: list[float], values: list[float]) -> tuple[float, float]:
    """Least-squares ``value = a * size ** b`` on logs; returns ``(a, b)``."""
    slope, intercept = np.polyfit(np.log(sizes), np.log(values), 1)
    return float(math.exp(intercept)), float(slope)


def linear_cost(sizes: list[float], values: list[float]) -> tuple[float, float]:
    """The stated model beyond the measurements: a fixed cost plus a cost per unit of work, from the
    two largest sizes (``value = fixed + per_unit * size``); returns ``(fixed, per_unit)``. A stage
    that measured faster at the larger size (noise on a shared machine) is taken not to grow."""
    per_unit = max((values[-1] - values[-2]) / (sizes[-1] - sizes[-2]), 0.0)
    return values[-1] - per_unit * sizes[-1], per_unit


def linear_crossing(fixed: float, per_unit: float, limit: float) -> float:
    """The size at which ``fixed + per_unit * size`` reaches ``limit`` (inf when it does not grow)."""
    return math.inf if per_unit <= 0 else max((limit - fixed) / per_unit, 0.0)


def run_stage(stage: str, home: Path, days: int) -> StageRun:
    """Run ``stage`` for ``days`` days in a fresh process on ``home``; its time and peak memory."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", KIMERA_HOME=str(home))
    command = [sys.executable, "-m", "bench._scale_stage", stage, str(home), str(days)]
    out_path, err_path = home / f"{stage}.out", home / f"{stage}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=err)
        # wait4 gives this child's own resource usage (ru_maxrss in KiB on Linux)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"stage {stage} at {days} days failed: {err_path.read_text()[-1500:]}")
    seconds = json.loads(out_path.read_text().strip().splitlines()[-1])["seconds"]
    return StageRun(stage, days, seconds, usage.ru_maxrss / 1024)


def measure_curves(
    base_days: int, sizes: tuple[int, ...] = SIZES, stages: tuple[str, ...] = STAGES
) -> tuple[list[StageRun], float]:
    """``stages`` at every size (each size in a fresh KIMERA_HOME), and the idle memory floor. The
    stages a chosen one reads from run before it, unmeasured (the replay reads ingest's raw tables)."""
    runs: list[StageRun] = []
    with tempfile.TemporaryDirectory(prefix="kimera-bench-scale-") as tmp:
        floor = run_stage("idle", Path(tmp), 0).peak_mb
        for size in sizes:
            home = Path(tmp) / f"x{size}"
            home.mkdir()
            for stage in needed(stages):
                run = run_stage(stage, home, base_days * size)
                if stage in stages:
                    runs.append(StageRun(stage, size, run.seconds, run.peak_mb))
    return runs, floor


# what each stage reads: the stages that must run (unmeasured) before it in the same home
INPUTS = {"ingest": (), "features": ("ingest",), "training": ("ingest", "features"),
          "backtest": ("ingest", "features", "training"), "replay": ("ingest",)}  # fmt: skip


def needed(stages: tuple[str, ...]) -> list[str]:
    """``stages`` and the stages they read from, in the pipeline's order."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"stages {unknown} are not accepted; accepted: {', '.join(STAGES)}")
    wanted = {s for stage in stages for s in (stage, *INPUTS[stage])}
    return [s for s in STAGES if s in wanted]


def run(
    quick: bool = False, sizes: tuple[int, ...] = SIZES, stages: tuple[str, ...] = STAGES
) -> list[Measure]:
    """The curves of ``stages`` at ``sizes`` (two at least: 16x of the demo's 90 days takes hours on 2 cores)."""
    from kimera.config import load_config

    if len(sizes) < 2:
        raise ValueError(f"sizes {sizes}: the growth needs two sizes at least, e.g. 1 4")
    needed(stages)  # refuse an unknown stage before hours of work
    base_days = 10 if quick else load_config().demo_days
    runs, floor = measure_curves(base_days, tuple(sorted(sizes)), tuple(stages))
    return curves(runs, floor, base_days)


def curves(runs: list[StageRun], floor: float, base_days: int) -> list[Measure]:
    """The table's rows from measured runs: time, peak memory, exponents, projections, and the first
    stage to outgrow one machine."""
    unit = ASSETS * VENUES * base_days  # asset-venue-days at 1x
    measures: list[Measure] = []
    outgrows: list[tuple[float, str, str]] = []
    model = MODEL_SIZE / unit
    for stage in STAGES:
        mine = sorted((r for r in runs if r.stage == stage), key=lambda r: r.size)
        if len(mine) < 2:
            continue
        sizes = [r.size for r in mine]
        seconds = [max(r.seconds, 1e-3) for r in mine]
        peaks = [r.peak_mb for r in mine]
        # exponents from the two largest sizes, where fixed costs (dbt's parse, imports) weigh least
        b_t = fit_exponent(sizes[-2:], seconds[-2:])[1]
        b_m = fit_exponent(sizes[-2:], peaks[-2:])[1]
        fixed_t, unit_t = linear_cost(sizes, seconds)
        fixed_m, unit_m = linear_cost(sizes, peaks)
        at = f"at {'/'.join(f'{k}x' for k in sizes)}"
        label = f"{stage} {sizes[-1]}x ({ASSETS} assets x {VENUES} venues x {base_days * sizes[-1]} days)"
        measures += [
            Measure(f"{label}: time", seconds[-1], "s", f"{stage} {sizes[-2]}x, same run", seconds[-2],
                    seconds[-1] / seconds[-2], "reported", True),
            Measure(f"{stage}: time exponent ({' / '.join(f'{t:.3g}' for t in seconds)} s {at})", b_t, "",
                    "linear growth", 1.0, b_t, "<= 1.2", b_t <= 1.2),
            Measure(f"{label}: peak memory", peaks[-1], "MB", "a process importing the stages' libraries",
                    floor, peaks[-1] / floor, "reported", True),
            Measure(f"{stage}: memory exponent ({' / '.join(f'{m:.0f}' for m in peaks)} MB {at})", b_m, "",
                    "linear growth", 1.0, b_m, "<= 1.2", b_m <= 1.2),
            Measure(f"{stage}: projected time at 1,000 assets x 5 venues x 3 years", fixed_t + unit_t * model,
                    "s", "one hour", TIME_LIMIT_S, (fixed_t + unit_t * model) / TIME_LIMIT_S, "reported", True),
            Measure(f"{stage}: projected peak memory at 1,000 assets x 5 venues x 3 years",
                    fixed_m + unit_m * model, "MB", "24 GB", MEMORY_LIMIT_MB,
                    (fixed_m + unit_m * model) / MEMORY_LIMIT_MB, "reported", True),
        ]  # fmt: skip
        outgrows.append((linear_crossing(fixed_t, unit_t, TIME_LIMIT_S) * unit, stage, "over 1 h on 2 cores"))
        outgrows.append((linear_crossing(fixed_m, unit_m, MEMORY_LIMIT_MB) * unit, stage, "over 24 GB"))
    if not outgrows:
        return measures
    size, stage, limit = min(outgrows)
    measures.append(
        Measure(f"first to outgrow one machine: {stage} ({limit})", size, "asset-venue-days",
                "1,000 assets x 5 venues x 3 years", MODEL_SIZE, size / MODEL_SIZE, "reported", True)
    )  # fmt: skip
    return measures


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.scale [--quick] [--sizes 1 4]``: ``kimera bench scale`` at chosen sizes."""
    import argparse

    from bench import format_table

    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1x is 10 days instead of demo_days")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="multiples of 1x (default 1 4 16)"
    )
    parser.add_argument(
        "--stages", nargs="+", default=list(STAGES), choices=STAGES,
        help="stages to measure (default all); the stages they read from run first, unmeasured",
    )  # fmt: skip
    args = parser.parse_args(argv)
    measures = run(quick=args.quick, sizes=tuple(args.sizes), stages=tuple(args.stages))
    print(format_table(measures, title=f"kimera bench scale at {args.sizes}x"))


if __name__ == "__main__":
    main()
