"""The ML domain's Dagster definitions: ``defs`` (merged by ``pipelines/definitions.py``)."""

from __future__ import annotations

import dagster as dg

from pipelines.ml.assets import ML_ASSETS
from pipelines.ml.resources import warehouse

defs = dg.Definitions(assets=ML_ASSETS, resources={"duckdb": warehouse()})
