"""The ML domain's Dagster definitions: ``defs`` (merged by ``pipelines/definitions.py``).

The assets ask for the shared ``warehouse`` resource (a DuckDBResource on
``KIMERA_HOME/warehouse.duckdb``), which ``pipelines/definitions.py`` binds once for every domain.
"""

from __future__ import annotations

import dagster as dg

from pipelines.ml.assets import ML_ASSETS
from pipelines.ml.jobs import ml_training_job

defs = dg.Definitions(assets=ML_ASSETS, jobs=[ml_training_job])
