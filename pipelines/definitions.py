"""The Dagster code location (``workspace.yaml``): every domain's ``defs``, merged, plus shared resources.

A domain adds itself with one import and one list entry below. Resources (``warehouse``,
``kimera``) are bound here once, so domains only name them. Steps run in-process: on a laptop the
multiprocess executor spends seconds per step re-importing code, and DuckDB has one writer anyway.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from pipelines.ingest import definitions as ingest
from pipelines.resources import shared_resources

# Modules, not their `defs`: Dagster allows one Definitions object at this module's top level.
DOMAINS: list[Definitions] = [ingest.defs]

defs = Definitions.merge(
    *DOMAINS,
    Definitions(resources=shared_resources(), executor=in_process_executor),
)
