"""The Dagster code location (``workspace.yaml``): every domain's definitions, merged, plus shared resources.

A domain adds itself with one import and one entry in :data:`DOMAINS`: its
``pipelines/<domain>/definitions.py`` exposes ``defs`` and, where they depend on the config (the
partitions start at ``start``), ``build_defs(config)``. Resources (``warehouse``, ``kimera``) are
bound here once, so domains only name them. Steps run in-process: on a laptop the multiprocess
executor spends seconds per step re-importing code, and DuckDB has one writer anyway. With a Celery
broker set (``KIMERA_CELERY_BROKER_URL``), Celery workers run them (:mod:`pipelines.distributed`).
"""

from __future__ import annotations

from types import ModuleType

from dagster import Definitions

from connect.sim import check_simulated_world
from kimera.config import KimeraConfig, load_config
from kimera.settings import Settings, get_settings
from pipelines.alerts import definitions as alerts
from pipelines.backtest import definitions as backtest
from pipelines.distributed import executor_for
from pipelines.features import definitions as features
from pipelines.ingest import definitions as ingest
from pipelines.landing import definitions as landing
from pipelines.live import definitions as live
from pipelines.ml import definitions as ml
from pipelines.resources import location_config, shared_resources
from pipelines.serving import definitions as serving
from pipelines.signals import definitions as signals
from pipelines.statements import definitions as statements

DOMAINS: list[ModuleType] = [
    ingest, landing, features, ml, serving, signals, live, backtest, statements, alerts,
]  # fmt: skip


def build_location(settings: Settings | None = None, config: KimeraConfig | None = None) -> Definitions:
    """The whole code location for these settings and config (defaults: this process's)."""
    settings = settings or get_settings()
    config = config or load_config(settings=settings)
    check_simulated_world(config)  # what the simulated sources would refuse at run time, refused now
    domains = [d.build_defs(config) if hasattr(d, "build_defs") else d.defs for d in DOMAINS]
    return Definitions.merge(
        *domains, Definitions(resources=shared_resources(settings), executor=executor_for(settings))
    )


defs = build_location(config=location_config())
