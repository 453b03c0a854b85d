"""``kimera bench scale``'s arithmetic: the growth exponent, and where a stage crosses a limit."""

from __future__ import annotations

import math

import pytest

from bench.scale import fit_exponent, linear_cost, linear_crossing


def test_the_exponent_of_a_power_law_is_recovered() -> None:
    a, b = fit_exponent([4, 16], [8.0, 8.0 * 4**1.5])
    assert (a, b) == (pytest.approx(1.0), pytest.approx(1.5))


def test_a_fixed_plus_linear_cost_projects_to_the_size_that_reaches_the_limit() -> None:
    # 30 s fixed, 2 s per unit of work: 38 s at 4x, 62 s at 16x
    fixed, per_unit = linear_cost([1, 4, 16], [99.0, 38.0, 62.0])
    assert (fixed, per_unit) == (pytest.approx(30.0), pytest.approx(2.0))
    assert linear_crossing(fixed, per_unit, 3600.0) == pytest.approx((3600 - 30) / 2)
    # a stage measured faster at the larger size is taken not to grow, and never crosses
    assert linear_cost([4, 16], [5.0, 4.0]) == (4.0, 0.0)
    assert linear_crossing(*linear_cost([4, 16], [5.0, 4.0]), 3600.0) == math.inf


def test_curves_from_two_sizes_name_the_stage_that_outgrows_the_machine_first() -> None:
    from bench.scale import STAGES, StageRun, curves, run

    # every stage 10 s and 500 MB fixed; features adds 1 GB per 1x, the others 1 s per 1x
    runs = [
        StageRun(stage, size, 10.0 + (0.0 if stage == "features" else size), 500.0 + (1024.0 * size if stage == "features" else 0.0))
        for stage in STAGES
        for size in (1, 4)
    ]  # fmt: skip
    measures = curves(runs, floor=400.0, base_days=90)
    first = measures[-1]
    assert first.measure == "first to outgrow one machine: features (over 24 GB)"
    # 24 GB at (24,576 - 500) / 1,024 = 23.5x the 1x work of 2 assets x 3 venues x 90 days
    assert first.value == pytest.approx((24 * 1024 - 500) / 1024 * 540)
    with pytest.raises(ValueError, match="two sizes at least"):
        run(sizes=(4,))


def test_chosen_stages_run_after_the_stages_they_read_and_an_unknown_one_is_refused() -> None:
    from bench.scale import needed, run

    assert needed(("replay",)) == ["ingest", "replay"]
    assert needed(("training", "replay")) == ["ingest", "features", "training", "replay"]
    with pytest.raises(
        ValueError, match="stages \\['replays'\\] are not accepted; accepted: ingest, features"
    ):
        run(sizes=(1, 4), stages=("replays",))
