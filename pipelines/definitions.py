"""The Dagster code location (``workspace.yaml``): every domain's ``defs``, merged, plus shared resources.

A domain adds itself with one import and one list entry below. Resources (``warehouse``,
``kimera``) are bound here once, so domains only name them. Steps run in-process: on a laptop the
multiprocess executor spends seconds per step re-importing code, and DuckDB has one writer anyway.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from pipelines.ingest.definitions import defs as ingest_defs
from pipelines.resources import shared_resources

DOMAINS: list[Definitions] = [ingest_defs]

defs = Definitions.merge(
    *DOMAINS,
    Definitions(resources=shared_resources(), executor=in_process_executor),
)
