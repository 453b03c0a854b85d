"""``kimera bench scale``'s arithmetic: the growth exponent and where a stage crosses a limit."""

from __future__ import annotations

import math

import pytest

from bench.scale import crossing, fit_exponent


def test_the_exponent_of_a_power_law_is_recovered_and_projects_to_the_limit() -> None:
    a, b = fit_exponent([4, 16], [8.0, 8.0 * 4**1.5])
    assert (a, b) == (pytest.approx(1.0), pytest.approx(1.5))
    # 1 * size**1.5 reaches 3600 s at size 3600**(1/1.5)
    assert crossing(a, b, 3600.0) == pytest.approx(3600 ** (1 / 1.5))
    # what does not grow never crosses
    assert crossing(1.0, 0.0, 3600.0) == math.inf
    assert crossing(*fit_exponent([4, 16], [5.0, 4.0]), 3600.0) == math.inf
