"""Benchmarks: each module ``bench/<name>.py`` defines ``run(quick: bool = False) -> list[Measure]``.

Every measure is compared with a baseline measured in the same run: a ceiling (the fastest the
underlying engine can go) or a peer. ``kimera bench`` (``make bench``, ``python -m bench``) prints
them as one table, a section per benchmark, or as JSON lines with exactly the keys of
:class:`Measure`. A benchmark that fails is reported in its own row and the command exits 1 after
the others have run.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

JSON_KEYS = ("measure", "value", "unit", "baseline", "baseline_value", "ratio", "goal", "met")


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
        """One line of strict JSON (a NaN or infinity, which JSON has not, becomes null)."""
        row = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()
        }
        row["met"] = bool(row["met"])
        return json.dumps(row, allow_nan=False)


@dataclass
class Outcome:
    """What one benchmark module gave: its measures, or the error that stopped it."""

    name: str
    measures: list[Measure]
    seconds: float
    error: str | None = None


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock runs of ``fn``, in seconds (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def available() -> list[str]:
    """Names of the benchmarks in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _chosen(names: list[str] | None) -> list[str]:
    known = available()
    chosen = list(names or known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; available: {', '.join(known)}")
    return chosen


def run_each(
    names: list[str] | None = None, quick: bool = False, on_start: Callable[[str], None] | None = None
) -> Iterator[Outcome]:
    """Run the named benchmarks (all when ``names`` is empty) one by one; a failure does not stop the rest."""
    for name in _chosen(names):
        if on_start is not None:
            on_start(name)
        began = time.perf_counter()
        try:
            measures = importlib.import_module(f"bench.{name}").run(quick=quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            yield Outcome(name, [], time.perf_counter() - began, f"{type(exc).__name__}: {exc}")
            continue
        yield Outcome(name, list(measures), time.perf_counter() - began)


def run(names: list[str] | None = None, quick: bool = False) -> list[Measure]:
    """Run the named benchmarks (all when ``names`` is empty) and return their measures; raise on a failure."""
    measures: list[Measure] = []
    for outcome in run_each(names, quick):
        if outcome.error is not None:
            raise RuntimeError(f"benchmark {outcome.name} failed: {outcome.error}")
        measures.extend(outcome.measures)
    return measures


def format_table(
    measures: list[Measure] | list[Outcome], width: int = 200, title: str = "Kimera benchmarks"
) -> str:
    """One table: measure, value, unit, baseline (ceiling or peer, same run), its value, ratio, goal, met."""
    from rich.console import Console
    from rich.table import Table

    outcomes = (
        [Outcome("", list(measures), 0.0)]
        if measures and isinstance(measures[0], Measure)
        else list(measures)  # type: ignore[arg-type]
    )
    table = Table(title=title)
    for col in ("measure", "value", "unit", "baseline (same run)", "baseline value", "ratio", "goal", "met"):
        table.add_column(col, justify="right" if col in {"value", "baseline value", "ratio"} else "left")
    for i, outcome in enumerate(outcomes):
        if outcome.name:
            if i:
                table.add_section()
            table.add_row(f"[bold]{outcome.name}[/] ({outcome.seconds:.0f} s)", *[""] * 7)
        if outcome.error is not None:
            table.add_row(f"  [red]failed[/]: {outcome.error}", *[""] * 6, "NO")
        for m in outcome.measures:
            table.add_row(
                f"  {m.measure}" if outcome.name else m.measure,
                _number(m.value),
                m.unit,
                m.baseline,
                _number(m.baseline_value),
                "" if m.ratio is None or not math.isfinite(m.ratio) else f"{m.ratio:.3f}",
                m.goal,
                "yes" if m.met else "NO",
            )
    console = Console(width=width, record=True)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def main(names: list[str], as_json: bool = False, quick: bool = False) -> int:
    """``kimera bench``: progress on stderr, the table (or JSON lines) on stdout; 1 if a benchmark failed."""
    import click

    def started(name: str) -> None:
        click.echo(f"running {name}{' (quick)' if quick else ''} ...", err=True)

    outcomes = []
    for outcome in run_each(names, quick, on_start=started):
        outcomes.append(outcome)
        if outcome.error is not None:
            click.echo(f"benchmark {outcome.name} failed: {outcome.error}", err=True)
        if as_json:  # each benchmark's lines as soon as it ends
            for m in outcome.measures:
                click.echo(m.as_json())
            sys.stdout.flush()
    if not as_json:
        click.echo(
            format_table(
                outcomes, title="Kimera benchmarks" + (" (--quick: smaller inputs)" if quick else "")
            )
        )
    return 1 if any(o.error is not None for o in outcomes) else 0
