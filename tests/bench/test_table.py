"""``kimera bench``: one table of every benchmark beside its same-run baseline, or JSON lines with
exactly the documented keys; a broken benchmark is reported without hiding the others."""

from __future__ import annotations

import json
import sys
import types

import pytest
from click.testing import CliRunner

import bench
from kimera.app.cli import main

# Two of the project's real benchmarks that take a second each with --quick.
FAST = ["router", "journal"]


def test_every_benchmark_module_offers_run_with_quick() -> None:
    import importlib
    import inspect

    names = bench.available()
    assert {"simulator", "ingest", "features", "router", "journal", "execution"} <= set(names)
    for name in names:
        run = importlib.import_module(f"bench.{name}").run
        assert "quick" in inspect.signature(run).parameters, f"bench.{name}.run has no quick"


def test_the_table_shows_each_measure_beside_its_same_run_baseline(kimera_home) -> None:
    result = CliRunner().invoke(main, ["bench", *FAST, "--quick"])
    assert result.exit_code == 0, result.output
    table = result.stdout
    for column in (
        "measure",
        "value",
        "unit",
        "baseline (same run)",
        "baseline value",
        "ratio",
        "goal",
        "met",
    ):
        assert column in table
    assert "Kimera benchmarks (--quick" in table
    for name in FAST:
        assert f"{name} (" in table  # a section per benchmark, with how long it took
    assert "journal intake, group commit" in table and "router decisions/s" in table
    assert "running router (quick)" in result.stderr  # progress goes to stderr, the table to stdout


def test_json_lines_carry_exactly_the_documented_keys(kimera_home) -> None:
    result = CliRunner().invoke(main, ["bench", *FAST, "--quick", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) >= 2
    for row in rows:
        assert tuple(row) == bench.JSON_KEYS == (
            "measure", "value", "unit", "baseline", "baseline_value", "ratio", "goal", "met"
        )  # fmt: skip
        assert isinstance(row["value"], float) and isinstance(row["met"], bool)
        assert row["baseline"] and row["goal"]
        if row["ratio"] is not None and row["baseline_value"]:
            assert row["ratio"] == pytest.approx(row["value"] / row["baseline_value"], rel=1e-9)


def test_an_unknown_benchmark_is_refused_with_the_list_of_known_ones() -> None:
    result = CliRunner().invoke(main, ["bench", "rooter"])
    assert result.exit_code != 0
    assert "unknown benchmark(s) ['rooter']" in result.output and "router" in result.output


def test_a_broken_benchmark_is_reported_and_the_others_still_run(monkeypatch, kimera_home) -> None:
    broken = types.ModuleType("bench.broken")

    def run(quick: bool = False):
        raise RuntimeError("venue server did not start")

    broken.run = run
    monkeypatch.setitem(sys.modules, "bench.broken", broken)
    monkeypatch.setattr(bench, "available", lambda: ["broken", "journal"])
    result = CliRunner().invoke(main, ["bench", "broken", "journal", "--quick"])
    assert result.exit_code == 1
    assert "failed: RuntimeError: venue server did not start" in result.stdout
    assert "journal intake, group commit" in result.stdout
    assert "NaN" not in bench.Measure("m", float("nan"), "s", "b", None, float("inf"), "g", True).as_json()
