"""`kimera live` refuses a bad setting before it starts anything, naming it and what is accepted."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.config import ConfigError
from live.run import with_live_overrides
from tests.support.config import config_with, write_config


def test_a_retention_shorter_than_the_feature_windows_is_refused():
    config = config_with(live={"retention_bars": 50})  # the shipped z-score reaches back 168 bars
    with pytest.raises(
        ConfigError, match=r"live.retention_bars = 50 is not accepted: .* reach back 169 bars"
    ):
        with_live_overrides(config, {})


def test_a_ccxt_feed_without_venues_and_a_bad_speed_are_refused_by_the_command(
    kimera_home, tmp_path, monkeypatch
):
    from kimera.settings import get_settings

    monkeypatch.setenv("KIMERA_CONFIG", str(write_config(tmp_path / "kimera.yaml", live={"feed": "ccxt"})))
    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["live", "--no-trade"])
    assert result.exit_code == 2
    assert "live.feed = 'ccxt' needs exchange.ccxt_venues" in result.output

    result = CliRunner().invoke(main, ["live", "--speed", "0"])
    assert result.exit_code == 2 and "live.speed" in result.output and "greater than 0" in result.output


def test_the_signal_intake_is_http_unless_the_stream_is_chosen_and_nothing_else_is_accepted():
    assert config_with().live.intake == "http"  # existing kimera.yaml files keep POST /signals
    assert config_with(live={"intake": "stream"}).live.intake == "stream"
    with pytest.raises(ConfigError, match=r"live.intake = 'grpc' is not accepted: .*'http' or 'stream'"):
        config_with(live={"intake": "grpc"})
