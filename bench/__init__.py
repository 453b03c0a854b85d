"""Benchmarks: each module ``bench/<name>.py`` defines ``run(quick: bool = False) -> list[Measure]``.

Every measure is compared with a baseline measured in the same run: a ceiling (the fastest the
underlying engine can go) or a peer. ``kimera bench`` prints them as one table, or as JSON lines.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import asdict, dataclass


@dataclass
class Measure:
    """One benchmark figure beside its same-run baseline.

    ``ratio`` is value / baseline_value. ``goal`` is a human-readable target (e.g. ``ratio >= 0.5``)
    and ``met`` whether this run reached it.
    """

    measure: str
    value: float
    unit: str
    baseline: str
    baseline_value: float | None
    ratio: float | None
    goal: str
    met: bool

    def as_json(self) -> str:
        return json.dumps(asdict(self))


def available() -> list[str]:
    """Names of the benchmarks in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def run(names: list[str] | None = None, quick: bool = False) -> list[Measure]:
    """Run the named benchmarks (all when ``names`` is empty) and return their measures."""
    known = available()
    chosen = names or known
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; available: {', '.join(known)}")
    measures: list[Measure] = []
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        measures.extend(module.run(quick=quick))
    return measures


def format_table(measures: list[Measure]) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Kimera benchmarks")
    for col in ("measure", "value", "unit", "baseline", "baseline value", "ratio", "goal", "met"):
        table.add_column(col, justify="right" if col in {"value", "baseline value", "ratio"} else "left")
    for m in measures:
        table.add_row(
            m.measure,
            f"{m.value:,.4g}",
            m.unit,
            m.baseline,
            "" if m.baseline_value is None else f"{m.baseline_value:,.4g}",
            "" if m.ratio is None else f"{m.ratio:.3f}",
            m.goal,
            "yes" if m.met else "NO",
        )
    console = Console(width=160, record=True)
    with console.capture() as capture:
        console.print(table)
    return capture.get()
