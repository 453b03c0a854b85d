"""The backtest's chunked features (dbt's SQL once per chunk of bars) against the live loop's
per-bar path: the same feature rows, so the same decisions, orders and fills, byte for byte."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from pipelines.features.online_sql import compile_online_features

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chunked_compiled(tmp_path_factory, bt_config):
    # 7 bars: a day of 30m bars spans several chunks, the last one running past the window's end
    return compile_online_features(bt_config, tmp_path_factory.mktemp("chunked"), window_bars=7)


def rows(result) -> str:
    from backtest.run import as_frames

    frames = as_frames(result)
    return json.dumps(
        {t: frames[t].to_dict("records") for t in ("backtest_orders", "backtest_fills", "backtest_equity")},
        default=str,
    )


def test_chunked_features_give_the_per_bar_paths_orders_and_fills_byte_for_byte(
    bt_home, bt_config, bt_compiled, chunked_compiled
):
    from backtest.run import replay

    start = bt_config.start_time
    end = start + timedelta(days=1)
    per_bar = asyncio.run(replay(bt_home, bt_config, bt_compiled, start, end, seed=3, code_version="t"))
    chunked = asyncio.run(replay(bt_home, bt_config, chunked_compiled, start, end, seed=3, code_version="t"))
    assert per_bar.run["bars"] == chunked.run["bars"] == 48
    assert len(per_bar.orders) > 5 and len(per_bar.fills) > 0
    assert per_bar.decisions == chunked.decisions
    assert rows(chunked) == rows(per_bar)
    assert {k: v for k, v in chunked.run.items()} == {k: v for k, v in per_bar.run.items()}
