"""Dagster's SQLite event log with batched writes, for the instance under ``KIMERA_HOME/dagster``.

A ranged run of hourly-partitioned assets records one materialisation event per partition: a
90-day demo is ~15,000 of them. The stock SQLite storage writes each in its own connections and
commits (two fsyncs apiece), which took ~15 minutes on a laptop disk. Dagster hands such events
over in batches when ``DAGSTER_EVENT_BATCH_SIZE`` is set (``kimera.settings.DAGSTER_TUNING``), but
its SQLite storage then still writes them one by one; this one writes a batch in one transaction
per database. Everything else, including the file layout, is the stock storage's, so a plain
``dagster.yaml`` can point at the same history.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster._config import Field, StringSource
from dagster._core.events import ASSET_EVENTS, BATCH_WRITABLE_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData


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
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(self.prepare_insert_event_batch(events))
        with self.index_transaction() as conn:
            event_ids = []
            for event in events:
                with db_result(conn, self.prepare_insert_event(event)) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(conn, event, event_id)
