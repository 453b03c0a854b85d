"""The compiled one-bar templates, moved to another bar, are exactly what dbt compiles for it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from kimera.config import TIMEFRAME_SECONDS
from live.sql_window import shift_window
from pipelines.features.online_sql import compile_online_features

pytestmark = pytest.mark.slow


def test_shifted_template_equals_dbt_compiling_that_bar(tmp_path, compiled, live_config):
    bar = timedelta(seconds=TIMEFRAME_SECONDS[live_config.features.bar])
    later = live_config.start_time + 77 * bar  # crosses a day: dates change, not only hours
    other = compile_online_features(live_config, tmp_path / "other", anchor=later)

    anchored = json.loads((compiled / "models.json").read_text())["models"]
    at_later = json.loads((other / "models.json").read_text())["models"]
    assert [m["name"] for m in anchored] == [m["name"] for m in at_later]
    assert any("timestamp '" in m["sql"] for m in anchored)  # the window is in the SQL
    for mine, theirs in zip(anchored, at_later, strict=True):
        assert shift_window(mine["sql"], 77 * bar) == theirs["sql"], mine["name"]


def test_shift_moves_every_literal_and_nothing_else():
    sql = "select 1 where t >= timestamp '2026-01-01 00:00:00' and t < timestamp '2026-01-01 01:00:00' -- '2026'"
    moved = shift_window(sql, timedelta(hours=23))
    assert moved == (
        "select 1 where t >= timestamp '2026-01-01 23:00:00' and t < timestamp '2026-01-02 00:00:00' -- '2026'"
    )
