"""One tick of ``live_loop_sensor`` on a ``KIMERA_HOME``'s own Dagster instance, as the daemon runs it.

``python -m bench._soak_sensor`` (with ``KIMERA_HOME`` and ``KIMERA_CONFIG`` set) evaluates the sensor
once, records its observation of ``live/loop`` in the instance under ``KIMERA_HOME`` (where
``dagster dev`` on that home shows it in the UI) and prints, as one JSON line, the latest
observation read back from the instance: its metadata and how many observations it holds.
"""

from __future__ import annotations

import json

from kimera.settings import prepare_home


def main() -> None:
    prepare_home()  # DAGSTER_HOME = KIMERA_HOME/dagster, telemetry off
    import dagster as dg

    from pipelines.live.sensors import LOOP, live_loop_sensor, loop_asset

    with dg.DagsterInstance.get() as instance:
        defs = dg.Definitions(assets=[loop_asset], sensors=[live_loop_sensor])
        result = live_loop_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        if isinstance(result, dg.SkipReason):
            print(json.dumps({"skipped": result.skip_message}))
            return
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        records = instance.fetch_observations(LOOP, limit=100).records
        latest = records[0].asset_observation
        metadata = {k: v.value for k, v in latest.metadata.items()} if latest else {}
        print(json.dumps({"observations": len(records), "metadata": metadata}, default=str))


if __name__ == "__main__":
    main()
