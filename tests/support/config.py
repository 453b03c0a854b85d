"""Build a KimeraConfig from the shipped kimera.yaml with some sections replaced (for tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kimera.config import KimeraConfig, parse_config
from kimera.schema import PARTITIONED_TABLES

REPO_CONFIG = Path(__file__).resolve().parents[2] / "kimera.yaml"

# The partitioned raw tables the shipped (simulated) config fills: its pools are constant-product,
# so raw.dex_liquidity (V3 mints and burns) stays empty there.
SIM_FILLED_TABLES = tuple(t for t in PARTITIONED_TABLES if t.name != "dex_liquidity")


def shipped_config_data(all_chains: bool = False) -> dict[str, Any]:
    """The shipped kimera.yaml as data; by default cut to its first chain (``chain:``, that chain's
    pools), the single-chain world most tests change a section of. ``all_chains``: the file as is."""
    data = yaml.safe_load(REPO_CONFIG.read_text())
    if all_chains or not data.get("chains"):
        return data
    first = data.pop("chains")[0]
    data["chain"] = first
    data["dex"]["pools"] = [p for p in data["dex"]["pools"] if p.get("chain", first["name"]) == first["name"]]
    return data


def config_with(**sections: Any) -> KimeraConfig:
    """The shipped config with top-level keys replaced, e.g. ``config_with(exchange={...})``."""
    data = shipped_config_data()
    data.update(sections)
    return parse_config(data, "test config")


def write_config(path: Path, **sections: Any) -> Path:
    """Write the shipped config with sections replaced to ``path`` (for the CLI and Dagster)."""
    data = shipped_config_data()
    data.update(sections)
    parse_config(data, str(path))
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
