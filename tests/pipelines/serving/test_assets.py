"""The serving job materialised: the gate's decision as Dagster metadata, then the bento of the winner."""

from __future__ import annotations

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.serving.assets import SERVING_ASSETS
from tests.pipelines.serving.conftest import T1, T2


def _materialize(settings, selection=None):
    return dg.materialize(
        SERVING_ASSETS,
        selection=selection,
        resources={"warehouse": DuckDBResource(database=str(settings.warehouse_path))},
    )


def _meta(result, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_gate_decision_and_its_figures_show_in_dagster(gate_home) -> None:
    promoted_only = [dg.AssetKey(["serving", "promoted_model"])]
    gate_home.save(T1)
    first = _meta(_materialize(gate_home.settings, promoted_only), "serving__promoted_model")
    worse = gate_home.save(T2, skill=False)
    second = _meta(_materialize(gate_home.settings, promoted_only), "serving__promoted_model")
    nothing = _meta(_materialize(gate_home.settings, promoted_only), "serving__promoted_model")
    assert first["decision"] == "promoted" and first["reason"] == "no model was promoted yet"
    assert second["decision"] == "kept" and second["candidate"] == worse.tag
    assert second["served_model"] == first["candidate"] and second["log_loss_gain"] < 0
    assert "| log_loss |" in second["figures"] and second["bars"] > 24
    assert nothing["decision"] == "none" and nothing["reason"] == "no new candidate"
