"""`dbt docs generate` works, and every column of the marts is documented."""

from __future__ import annotations

import json

import pytest

from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import dbt_vars


@pytest.mark.slow
def test_docs_generate_documents_every_mart_column(built_home, sim_config, tmp_path):
    run_dbt(["docs", "generate"], home=built_home, dbt_vars=dbt_vars(sim_config), target_path=tmp_path)
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for model in ("features", "labels"):
        built = set(catalog["nodes"][f"model.kimera.{model}"]["columns"])
        node = manifest["nodes"][f"model.kimera.{model}"]
        assert node["description"].strip()
        documented = {c for c, meta in node["columns"].items() if meta["description"].strip()}
        assert built - documented == set(), f"undocumented columns of marts.{model}"
    assert (tmp_path / "index.html").exists()
