"""The config file: the shipped one loads; bad values fail at start naming key, value and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.config import ConfigError, load_config, parse_config
from tests.support.config import shipped_config_data

REPO_CONFIG = Path(__file__).resolve().parents[2] / "kimera.yaml"


def _shipped() -> dict:
    return shipped_config_data()  # cut to its first chain: these tests edit `chain:`


def test_shipped_config_loads_with_two_assets_and_three_sim_venues() -> None:
    config = load_config(REPO_CONFIG)
    assert [a.pair for a in config.assets] == ["BTC/USDT", "ETH/USDT"]
    assert len(config.sim.venues) >= 3
    assert config.exchange.source == "sim"


def test_bad_source_names_key_value_and_accepted_values() -> None:
    data = _shipped()
    data["exchange"]["source"] = "binanse"
    with pytest.raises(ConfigError) as err:
        parse_config(data, "kimera.yaml")
    message = str(err.value)
    assert "exchange.source" in message
    assert "'binanse'" in message
    assert "'sim', 'ccxt' or 'file'" in message


def test_every_bad_value_is_reported_at_once() -> None:
    data = _shipped()
    data["chain"]["tokens"][1]["address"] = "0x1234"
    data["sim"]["venues"] = [{"id": "alpha", "fee_bps": -3}]
    data["colour"] = "blue"
    with pytest.raises(ConfigError) as err:
        parse_config(data, "kimera.yaml")
    message = str(err.value)
    assert "chain.tokens[1].address = '0x1234'" in message
    assert "sim.venues[0].fee_bps = -3" in message and "greater than or equal to 0" in message
    assert "colour is not a known key" in message


def test_rpc_source_without_url_is_refused() -> None:
    data = _shipped()
    data["chain"]["source"] = "rpc"
    with pytest.raises(ConfigError, match="rpc_url"):
        parse_config(data)


def test_cli_reports_bad_config_in_one_line_and_exits_2(tmp_path: Path, kimera_home, monkeypatch) -> None:
    data = _shipped()
    data["features"]["bar"] = "7m"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("KIMERA_CONFIG", str(bad))
    from kimera.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["demo", "--stage", "ingest"])
    assert result.exit_code == 2
    assert "features.bar = '7m'" in result.output


def test_models_section_refuses_unusable_values() -> None:
    data = _shipped()
    data["models"]["quantiles"] = [0.9, 0.1]
    data["models"]["transformer"] = {"d_model": 30, "heads": 4}
    data["models"]["hpo"] = {"pruner": "random"}
    with pytest.raises(ConfigError) as err:
        parse_config(data, "kimera.yaml")
    message = str(err.value)
    assert "models.quantiles = [0.9, 0.1]" in message and "strictly increasing" in message
    assert "d_model (30) must be a multiple of heads (4)" in message
    assert "models.hpo.pruner = 'random'" in message


def test_shipped_models_section_loads() -> None:
    models = load_config(REPO_CONFIG).models
    assert models.horizon == 1 and models.seeds == [0, 1, 2] and models.hpo.pruner == "median"
