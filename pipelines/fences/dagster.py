"""Where the pipelines reach into Dagster's private API, and the version each was measured against."""

from __future__ import annotations

from kimera.fences import Bypass

DAGSTER = {"dagster": "1.13.27"}

BYPASSES: tuple[Bypass, ...] = (
    Bypass(
        name="batching SQLite event log",
        used_in=("pipelines/dagster_storage.py", "kimera/settings.py (dagster.yaml names it)"),
        why="writes a batch of events in one transaction instead of one per event (ingest of many partitions)",
        measured_against=DAGSTER,
        symbols=(
            "dagster._config:Field",
            "dagster._config:StringSource",
            "dagster._core.events:ASSET_EVENTS",
            "dagster._core.events:BATCH_WRITABLE_EVENTS",
            "dagster._core.events.log:EventLogEntry",
            "dagster._core.storage.asset_check_execution_record:AssetCheckExecutionRecordStatus",
            "dagster._core.storage.event_log.schema:AssetCheckExecutionsTable",
            "dagster._core.storage.event_log.schema:SqlEventLogStorageTable",
            "dagster._core.storage.event_log.sqlite.sqlite_event_log:SqliteEventLogStorage.store_event_batch",
            "dagster._core.storage.event_log.sqlite.sqlite_event_log:SqliteEventLogStorage._event_to_row",
            "dagster._core.storage.event_log.sqlite.sqlite_event_log:SqliteEventLogStorage._store_asset_event_tags",
            "dagster._core.storage.event_log.sqlite.sqlite_event_log:SqliteEventLogStorage._event_insert_timestamp",
            "dagster._serdes:ConfigurableClassData",
            "dagster._serdes:serialize_value",
        ),
    ),
    Bypass(
        name="in-process run of a job over a partition range",
        used_in=("pipelines/runner.py",),
        why="one run for a whole backfill window on the instance, with live events for progress bars",
        measured_against=DAGSTER,
        symbols=(
            "dagster._core.events.log:EventLogEntry",
            "dagster._core.storage.dagster_run:NOT_FINISHED_STATUSES",
            "dagster._core.storage.tags:ASSET_PARTITION_RANGE_END_TAG",
            "dagster._core.storage.tags:ASSET_PARTITION_RANGE_START_TAG",
            "dagster._core.utils:make_new_run_id",
            "dagster._utils.interrupts:check_captured_interrupt",
        ),
    ),
    Bypass(
        name="unresolved asset job type",
        used_in=("pipelines/ingest/schedules.py",),
        why="type of the jobs define_asset_job returns, for the schedules built from them",
        measured_against=DAGSTER,
        symbols=("dagster._core.definitions.unresolved_asset_job_definition:UnresolvedAssetJobDefinition",),
    ),
)
