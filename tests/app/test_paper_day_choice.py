"""How the demo paper-trades the held-out day (``demo.paper_day``): the live loop unless the older
replay is chosen, with the loop warmed up long enough to trade the first paper bar."""

from __future__ import annotations

import pytest

from kimera.app.demo.paper_live import warm_up_bars
from kimera.config import ConfigError
from tests.support.config import config_with, shipped_config_data


def test_the_paper_day_runs_through_the_live_loop_unless_the_replay_is_chosen() -> None:
    assert config_with().demo.paper_day == "live"  # a kimera.yaml without the section keeps working
    assert config_with(demo={"paper_day": "replay"}).demo.paper_day == "replay"
    with pytest.raises(ConfigError, match="paper_day") as refused:
        config_with(demo={"paper_day": "stream"})
    assert "live" in str(refused.value) and "replay" in str(refused.value)
    with pytest.raises(ConfigError, match="paper_speed"):
        config_with(demo={"paper_speed": 0})


def test_the_warm_up_covers_the_longest_feature_window_and_a_model_input_window() -> None:
    class Ctx:  # what warm_up_bars reads of a demo context
        config = config_with(models={**shipped_config_data()["models"], "seq_len": 5})

    features = Ctx.config.features
    longest = max(features.vol_window, features.zscore_window, max(features.return_lags), 20)
    assert warm_up_bars(Ctx) >= longest + 1 + 5  # type: ignore[arg-type]
