"""The serving section of the config: bad values fail at load, naming the key and what is accepted."""

from __future__ import annotations

import pytest
import yaml

from kimera.config import ConfigError, parse_config
from tests.bentos.world import REPO_CONFIG


def _with_serving(**serving) -> dict:
    data = yaml.safe_load(REPO_CONFIG.read_text())
    data["serving"] = {**data["serving"], **serving}
    return data


@pytest.mark.parametrize(
    ("serving", "says"),
    [
        ({"retrain": {"cron": "daily"}}, "serving.retrain.cron = 'daily' is not accepted: expected a 5-field cron"),
        ({"signals": {"push": "sometimes"}}, "serving.signals.push = 'sometimes' is not accepted: Input should be 'auto', 'required' or 'off'"),
        ({"model": "ensemble"}, "serving.model = 'ensemble' is not accepted"),
        ({"promotion": {"min_bars": 0}}, "serving.promotion.min_bars = 0 is not accepted"),
    ],
)  # fmt: skip
def test_a_bad_serving_value_names_the_key_and_what_is_accepted(serving, says) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with_serving(**serving), "kimera.yaml")
    assert says in str(error.value)


def test_the_shipped_serving_section_points_signals_at_the_model_server() -> None:
    serving = parse_config(yaml.safe_load(REPO_CONFIG.read_text())).serving
    assert serving.url == "http://127.0.0.1:3100" and serving.model == "kimera-ensemble"
    assert serving.signals.push == "auto" and serving.promotion.min_bars == 24
