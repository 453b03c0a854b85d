"""The loop trades on the promoted model: same predictions as the batch, hot swap, stale model.
(A restart that never trades a bar twice: tests/live/test_cli.py, with a real SIGKILL.)"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import duckdb
import numpy as np
import pytest

from kimera.config import TIMEFRAME_SECONDS
from live.clock import TestClock
from live.features import OnlineFeatures
from live.feeds.sim import SimFeed
from live.loop import Loop
from live.model import FeatureWindows, PromotedModel
from live.signals import Outbox
from live.trader import Trader

pytestmark = pytest.mark.slow
FEATURES = ["ret_1", "rsi", "volume_z", "net_exchange_flow_z"]
SEQ_LEN = 3


def train(batch_home, features, fit_hours: int = 16):
    from models.marts import read_marts
    from models.tabular import train_linear
    from models.windows import make_windows

    with duckdb.connect(str(batch_home / "warehouse.duckdb"), read_only=True) as con:
        windows = make_windows(read_marts(con, 1, features), SEQ_LEN)
    day = windows.bar_time.min().astype("datetime64[D]")
    cut, val_end = day + np.timedelta64(fit_hours, "h"), day + np.timedelta64(fit_hours + 5, "h")
    fit = windows.take(np.flatnonzero(windows.bar_time <= cut))
    val = windows.take(np.flatnonzero((windows.bar_time > cut) & (windows.bar_time <= val_end)))
    end = cut.astype("datetime64[us]").item()
    return train_linear(fit, val, (0.1, 0.5, 0.9)), windows, end


def promote(model, end, settings):
    from models.promoted import write_promoted
    from models.registry import save_model

    stored = save_model(model, data_window=(end - timedelta(days=1), end), settings=settings)
    write_promoted(stored.tag, "test-promotion", settings)
    return stored.tag


def run_trader(compiled, config, settings, start, end, *, max_age=None, on_bar_extra=None):
    clock = TestClock(start)
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    model = PromotedModel(settings, max_age=max_age)
    trader = Trader(
        model, FeatureWindows([], 1, bar), Outbox(settings.home_dir / "live" / "outbox.sqlite"), None, clock
    )

    async def on_bar(bars):
        await trader.on_bar(bars)
        if on_bar_extra:
            on_bar_extra(bars)

    features = OnlineFeatures(compiled)
    try:
        # a bar per step: the feed's granularity does not change a closed bar (test_parity runs minutes)
        asyncio.run(Loop(clock, SimFeed(config, start, end, step=bar), features, on_bar).run())
    finally:
        features.close()
        trader.outbox.close()
    return trader


def test_online_predictions_equal_the_batch_model_and_a_stale_model_is_not_traded(
    kimera_home, compiled, batch_home, live_config, live_window
):
    model, windows, end = train(batch_home, FEATURES)
    tag = promote(model, end, kimera_home)
    trader = run_trader(compiled, live_config, kimera_home, *live_window, max_age=timedelta(hours=6))

    batch = model.predict_windows(windows)
    expected = {
        (a, t.astype("datetime64[us]").item()): (r, p)
        for a, t, r, p in zip(windows.asset, windows.bar_time, batch.ret, batch.p_up, strict=True)
    }
    online = {(d.prediction.asset, d.prediction.feature_time): d.prediction for d in trader.decisions}
    assert set(online) == set(expected)  # a prediction for every complete window, none other
    for key, (ret, p_up) in expected.items():
        assert online[key].forecast == pytest.approx(ret, rel=1e-9, abs=1e-12)
        assert online[key].p_up == pytest.approx(p_up, rel=1e-9, abs=1e-12)
        assert online[key].model_tag == tag
    # trained until `end`: six hours later the model is stale, predicts, is recorded, is not traded
    fresh = [d for d in trader.decisions if d.prediction.feature_time - end <= timedelta(hours=6)]
    stale = [d for d in trader.decisions if d.prediction.feature_time - end > timedelta(hours=6)]
    assert fresh and stale
    assert all(d.traded for d in fresh)
    assert not any(d.traded for d in stale) and all("trained until" in d.reason for d in stale)


def test_a_promotion_is_picked_up_between_two_bars_without_a_restart(
    kimera_home, compiled, batch_home, live_config, live_window
):
    first, _, end = train(batch_home, FEATURES)
    second, _, _ = train(batch_home, ["ret_1", "rsi"], fit_hours=15)
    old = promote(first, end, kimera_home)
    promoted = {}

    def promote_at_noon(bars):
        if bars and bars[0].bar_time == live_window[0] + timedelta(hours=12) and not promoted:
            promoted["tag"] = promote(second, end, kimera_home)

    trader = run_trader(compiled, live_config, kimera_home, *live_window, on_bar_extra=promote_at_noon)
    tags = [(d.prediction.feature_time, d.prediction.model_tag) for d in trader.decisions]
    noon = live_window[0] + timedelta(hours=12)
    assert {t for f, t in tags if f <= noon} == {old}
    assert {t for f, t in tags if f > noon} == {promoted["tag"]}
    assert trader.model.swaps == 1
