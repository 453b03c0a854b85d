"""Dagster's SQLite event log with batched writes, for the instance under ``KIMERA_HOME/dagster``.

A ranged run of hourly-partitioned assets records one materialisation event per partition: a
90-day demo is ~15,000 of them. The stock SQLite storage writes each in its own connections and
commits (two fsyncs apiece), which took ~15 minutes on a laptop disk. Dagster hands such events
over in batches when ``DAGSTER_EVENT_BATCH_SIZE`` is set (``kimera.settings.DAGSTER_TUNING``), but
its SQLite storage then still writes them one by one; this one writes a batch in one transaction
per database, serialising each event once (the stock code serialises it three times, and inspects
the table's columns for every event), and updates an asset's latest-event row once per batch rather
than once per event. A ranged run's planned check evaluations (a row per check and partition) are
likewise serialised once per check, not once per row. Everything else, including the file layout,
is the stock storage's, so a plain ``dagster.yaml`` can point at the same history.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster._config import Field, StringSource
from dagster._core.events import ASSET_EVENTS, BATCH_WRITABLE_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData, serialize_value


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """The stock SQLite event log (``$DAGSTER_HOME/history/runs``) that stores a batch of asset
    events in one transaction on the run's database and one on the cross-run index."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        # The instance folder (``{env: DAGSTER_HOME}`` in dagster.yaml); events live where the
        # stock storage keeps them, under history/runs.
        return {"dagster_home": Field(StringSource)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchingSqliteEventLogStorage:
        base_dir = os.path.join(config_value["dagster_home"], "history", "runs")
        return cls(base_dir=base_dir, inst_data=inst_data)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        events = list(events)
        batchable = len({e.run_id for e in events}) == 1 and all(
            e.is_dagster_event
            and e.dagster_event_type in BATCH_WRITABLE_EVENTS
            and e.dagster_event_type in ASSET_EVENTS
            and e.get_dagster_event().asset_key is not None
            for e in events
        )
        if not events or not batchable:
            super().store_event_batch(events)
            return
        # What store_event does for an asset event, for the whole batch at once.
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            inserted = conn.execute(
                SqlEventLogStorageTable.insert().returning(
                    SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            event_ids = [row[0] for row in inserted]
            self._store_asset_event_tags(conn, events, event_ids)
            # An asset's index row keeps its latest event of each kind: the last of each kind in the
            # batch, applied in order, leaves it as applying every event would.
            latest: dict[tuple[str, str], tuple[int, EventLogEntry, int]] = {}
            for position, (event, event_id) in enumerate(zip(events, event_ids, strict=True)):
                key = (event.get_dagster_event().asset_key.to_string(), event.dagster_event_type)
                latest[key] = (position, event, event_id)
            for _, event, event_id in sorted(latest.values(), key=lambda entry: entry[0]):
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        planned = event.get_dagster_event().event_specific_data
        partitions = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        common = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=event.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=serialize_value(event),
            evaluation_event_timestamp=self._event_insert_timestamp(event),
            evaluation_event_storage_id=event_id,
        )
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**common, "partition": p} for p in partitions])
