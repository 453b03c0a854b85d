"""How dbt's nodes become Dagster assets: sources are the ingest assets, models follow new raw data.

dbt sources (``exchange``, ``chain``, ``dex`` on schema ``raw``) map to the ingest assets'
keys ``raw/<table>``, so Dagster shows one graph from ingest to the marts; models keep dbt's
default keys (``marts/features``, ``staging/stg_exchange__trades``, ...), grouped ``features``, each
with the automation condition of :mod:`pipelines.features.automation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey, AutomationCondition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from pipelines.features.automation import follow_raw_data

GROUP = "features"


class KimeraDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        # Model tests are checks on the models. Source tests stay dbt's (run by every `dbt build`, they
        # skip the models downstream of a failure) rather than checks on raw/<table>: as checks they
        # would start dbt inside every ingest run, and the raw tables' own checks are the GX suites.
        super().__init__(
            DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_source_tests_as_checks=False)
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        return GROUP

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> AutomationCondition | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return follow_raw_data()
