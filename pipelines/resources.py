"""Resources shared by every domain of the code location: the warehouse and the config file.

``pipelines.definitions`` binds them once (keys ``warehouse`` and ``kimera``); a domain's assets
ask for them by those names. Tests pass their own instances to ``dagster.materialize``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from kimera.config import KimeraConfig, load_config
from kimera.settings import Settings, get_settings
from pipelines.sources import Sources, make_sources


# DuckDB has one writer process: a second one (kimera sql, a notebook) holding the file makes the
# open fail with an IOException until it lets go, so wait for it with backoff.
@retry(
    retry=retry_if_exception_type(duckdb.IOException),
    wait=wait_exponential(multiplier=0.2, max=5),
    stop=stop_after_delay(60),
    reraise=True,
)
def _connect(database: str, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(database, read_only=False, config=config)


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse (``KIMERA_HOME/warehouse.duckdb``).

    Unlike the stock ``DuckDBResource`` it closes the connection when the asset fails too, so a
    failed step never keeps the file locked for the next one or for ``kimera sql``.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        con = _connect(self.database, {"custom_user_agent": "kimera", **self.connection_config})
        try:
            yield con
        finally:
            con.close()


class KimeraResource(ConfigurableResource):
    """The config file and the sources it chooses (``exchange.source``, ``chain.source``, ...)."""

    config_path: str

    _config: KimeraConfig | None = PrivateAttr(default=None)
    _sources: Sources | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._config = None
        self._sources = None

    def config(self) -> KimeraConfig:
        """The validated config (read once per run)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def sources(self) -> Sources:
        """The sources the config asks for, made once per run by ``make_sources``."""
        if self._sources is None:
            self._sources = make_sources(self.config())
        return self._sources


@lru_cache(maxsize=1)
def location_config() -> KimeraConfig:
    """The config the code location is built from (partitions start at its ``start``)."""
    return load_config(settings=get_settings())


def shared_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources every domain's assets use, keyed as they ask for them."""
    settings = settings or get_settings()
    warehouse = WarehouseResource(database=str(settings.warehouse_path))
    if settings.lake_url:  # the warehouse on object storage (docs/scaling-out.md)
        from pipelines.lake.resource import lake_warehouse

        warehouse = lake_warehouse(settings)
    return {
        "warehouse": warehouse,
        "kimera": KimeraResource(config_path=str(settings.config.expanduser().resolve())),
    }
