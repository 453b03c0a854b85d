"""Benchmark rows compare like with like, and each row says what both sides do."""

from __future__ import annotations

import bench.router
import bench.training
from bench.live_sources import _dump_measures


def test_router_rows_time_the_floor_on_the_same_clock_as_the_decision() -> None:
    measures = bench.router.run(quick=True)
    assert len(measures) == 8
    for m in measures:
        on_cpu = "on-CPU" in m.measure
        assert on_cpu != ("wall clock" in m.measure), m.measure
        assert ("on-CPU" in m.baseline and "thread_time" in m.baseline) == on_cpu, (m.measure, m.baseline)
        assert ("wall clock" in m.baseline and "perf_counter" in m.baseline) != on_cpu, (
            m.measure,
            m.baseline,
        )


def test_dump_import_rows_write_on_both_sides(tmp_path) -> None:
    measures = _dump_measures(tmp_path, quick=True)
    assert [m.measure.split()[2] for m in measures] == ["klines", "trades"]
    for m in measures:
        assert "parse + checks + write to raw" in m.measure
        assert "CREATE TABLE AS read_csv" in m.baseline and "write" in m.baseline
        assert m.value > 0 and m.baseline_value > 0 and abs(m.ratio - m.value / m.baseline_value) < 1e-9


def test_a_quick_training_run_is_not_held_to_the_demo_configs_goal() -> None:
    quick = bench.training._time_measures(True, "synthetic", cpu=12.0, seconds=15.0)
    assert all(m.baseline_value is None and m.ratio is None and "300" in m.baseline for m in quick)
    assert all("quick config" in m.measure and m.goal.startswith("reported") for m in quick)
    demo = bench.training._time_measures(False, "dbt marts", cpu=250.0, seconds=320.0)
    assert all("demo config" in m.measure and m.baseline_value == 300.0 for m in demo)
    assert [m.met for m in demo] == [True, False]
