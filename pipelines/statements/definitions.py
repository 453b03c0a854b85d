"""The statements domain's definitions: the daily statements asset (partitions from the config's start)."""

from __future__ import annotations

import dagster as dg

from kimera.config import KimeraConfig
from pipelines.resources import location_config
from pipelines.statements.assets import build_statement_asset


def build_defs(config: KimeraConfig) -> dg.Definitions:
    return dg.Definitions(assets=[build_statement_asset(config)])


defs = build_defs(location_config())
