"""Feature models run at once when a bar closes (``live.feature_workers``): the same rows as one
after another, dependencies respected, and a failed bar closed again gives the same rows."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from live.clock import TestClock
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop


def _bars(compiled, config, start, end, features: OnlineFeatures) -> list:
    bars: list = []
    try:
        asyncio.run(Loop(TestClock(start), SimFeed(config, start, end), features, bars.extend).run())
    finally:
        features.close()
    return [(b.asset, b.bar_time, b.values) for b in bars]


def test_independent_models_run_at_once_and_give_the_same_rows(compiled, live_config, live_window):
    start = live_window[0]
    end = start + timedelta(hours=4)
    one_by_one = _bars(compiled, live_config, start, end, OnlineFeatures(compiled))

    features = OnlineFeatures(compiled, workers=2)
    by_name = {m.name: m for m in features.models}
    # two models that read no other model meet at a barrier: run one after the other, they could not
    together = threading.Barrier(2, timeout=10)
    committed: dict[str, float] = {}
    started: dict[str, float] = {}
    run_model = features._run_model
    clock = threading.Lock()
    ticks = iter(range(10**9))

    def watched(model, shift):
        with clock:
            started.setdefault(model.name, next(ticks))
        if (
            model.name in ("int_venue_trades_aggregated", "int_order_books_consolidated")
            and not together.broken
        ):
            together.wait()
        run_model(model, shift)
        with clock:
            committed.setdefault(model.name, next(ticks))

    features._run_model = watched  # type: ignore[method-assign]
    concurrent = _bars(compiled, live_config, start, end, features)

    assert concurrent == one_by_one
    assert not together.broken, "two independent models never ran at the same time"
    # a model starts only after every model it reads has committed (the first bar's order)
    for name, model in by_name.items():
        for parent in model.upstream or ():
            assert committed[parent] < started[name], f"{name} started before {parent} committed"


def test_a_bar_that_failed_half_way_closed_again_gives_the_rows_of_an_uninterrupted_run(compiled, live_config, live_window):  # fmt: skip
    start = live_window[0]
    end = start + timedelta(hours=4)
    uninterrupted = _bars(compiled, live_config, start, end, OnlineFeatures(compiled, workers=2))

    features = OnlineFeatures(compiled, workers=2)
    statements = features._statements
    failed: list = []

    def broken_once(model, shift):
        # the fourth bar's indicators fail after the models that do not need them have committed
        if model.name == "int_indicators" and len(failed) == 0 and shift >= 3 * features.bar:
            failed.append(shift)
            return "select * from no_such_table"
        return statements(model, shift)

    features._statements = broken_once  # type: ignore[method-assign]
    close = features.close_bar
    raised: list[str] = []

    def retried(bar_time):
        try:
            return close(bar_time)
        except Exception as exc:  # the loop would stop here; a restarted caller closes it again
            raised.append(str(exc))
            assert features.last_bar is None or features.last_bar < bar_time
            return close(bar_time)

    features.close_bar = retried  # type: ignore[method-assign]
    again = _bars(compiled, live_config, start, end, features)

    assert failed and len(raised) == 1 and "no_such_table" in raised[0]
    assert again == uninterrupted


def test_workers_must_be_positive(compiled):
    with pytest.raises(ValueError, match="workers must be at least 1"):
        OnlineFeatures(compiled, workers=0)
