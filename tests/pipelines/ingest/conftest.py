"""Fixtures for the ingest tests: a config with quick retries, a warehouse under tmp_path, helpers to
materialise ingest assets and read raw tables back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from dagster import AssetKey, AssetsDefinition, ExecuteInProcessResult, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from kimera.config import KimeraConfig, load_config
from kimera.schema import RAW_TABLES
from kimera.settings import Settings, get_settings
from pipelines.ingest.assets import build_ingest_assets
from pipelines.resources import KimeraResource, WarehouseResource
from pipelines.sources import Sources

REPO_CONFIG = Path(__file__).resolve().parents[3] / "kimera.yaml"


@pytest.fixture
def config_path(kimera_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped config with retries fast enough for tests (2 retries, 10 ms first delay) and day-long
    chunks (so a short range crosses a chunk edge)."""
    data = yaml.safe_load(REPO_CONFIG.read_text())
    data["ingest"] = {**data.get("ingest", {}), "max_retries": 2, "retry_delay_s": 0.01, "chunk_hours": 24}
    path = tmp_path / "kimera.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    get_settings.cache_clear()
    return path


@pytest.fixture
def config(config_path: Path) -> KimeraConfig:
    return load_config(config_path)


@pytest.fixture
def ingest_assets(config: KimeraConfig) -> list[AssetsDefinition]:
    return build_ingest_assets(config)


@pytest.fixture
def settings(config_path: Path) -> Settings:
    return get_settings()


def kimera_with(sources: Sources, config_path: Path) -> KimeraResource:
    """A ``kimera`` resource that hands the assets these sources instead of ``make_sources``'s."""

    class _Given(KimeraResource):
        def sources(self) -> Sources:
            return sources

    return _Given(config_path=str(config_path))


@pytest.fixture
def run_ingest(
    ingest_assets: list[AssetsDefinition], settings: Settings, config_path: Path
) -> Callable[..., ExecuteInProcessResult]:
    """Materialise ingest assets for one partition or a range of them (one run), on tmp_path's warehouse."""

    def run(
        tables: Sequence[str],
        partitions: str | tuple[str, str] | None = None,
        sources: Sources | None = None,
        raise_on_error: bool = True,
    ) -> ExecuteInProcessResult:
        kimera = (
            kimera_with(sources, config_path)
            if sources is not None
            else KimeraResource(config_path=str(config_path))
        )
        tags: dict[str, str] = {}
        partition_key = None
        if isinstance(partitions, tuple):
            tags = {
                ASSET_PARTITION_RANGE_START_TAG: partitions[0],
                ASSET_PARTITION_RANGE_END_TAG: partitions[1],
            }
        else:
            partition_key = partitions
        return materialize(
            ingest_assets,
            selection=[AssetKey(["raw", t]) for t in tables],
            resources={
                "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
                "kimera": kimera,
            },
            partition_key=partition_key,
            tags=tags,
            raise_on_error=raise_on_error,
        )

    return run


@pytest.fixture
def read_rows(settings: Settings) -> Callable[..., list[tuple[Any, ...]]]:
    """Every row of a raw table (optionally filtered), sorted, from a connection closed right after."""

    def read(table: str, where: str = "TRUE", params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if not settings.warehouse_path.exists():
            return []
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            exists = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = ?", [table]
            ).fetchone()[0]
            if not exists:
                return []
            columns = ", ".join(f'"{c}"' for c in RAW_TABLES[table].columns)
            return con.execute(
                f"SELECT {columns} FROM raw.{table} WHERE {where} ORDER BY ALL", list(params)
            ).fetchall()

    return read
