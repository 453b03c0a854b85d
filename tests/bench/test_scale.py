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
