"""Features follow new raw data, and never data that failed its blocking check.

The automation condition is evaluated tick by tick as the daemon would (``evaluate_automation_conditions``
at a chosen time): once the ingest assets have written the newest hour and their checks passed, the
dbt models of that hour are requested; when the newest hour's trades fail their quality check (a
negative price from the source), neither the trade models nor marts.features are requested.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    evaluate_automation_conditions,
    in_process_executor,
)

from pipelines.ingest.partitions import partition_key
from pipelines.resources import KimeraResource, WarehouseResource
from pipelines.runner import run_job
from pipelines.sources import Sources, make_sources

FEATURES = AssetKey(["marts", "features"])
TRADES_STAGING = AssetKey(["staging", "stg_exchange__trades"])
BLOCKS_STAGING = AssetKey(["staging", "stg_chain__blocks"])


class NegativeFirstPrice:
    """The simulator's exchange, except that the first trade of every window has a negative price."""

    def __init__(self, exchange) -> None:
        self._exchange = exchange

    def __getattr__(self, name):
        return getattr(self._exchange, name)

    def trades(self, start, end) -> pa.Table:
        rows = self._exchange.trades(start, end)
        price = rows["price"].to_numpy(zero_copy_only=False).copy()
        price[0] = -price[0]
        return rows.set_column(rows.schema.get_field_index("price"), "price", pa.array(price))


@pytest.mark.slow
def test_models_follow_new_raw_hours_unless_a_blocking_check_failed(dbt_manifest, home, config):
    from pipelines.features.definitions import build_defs as features_defs
    from pipelines.ingest.definitions import build_defs as ingest_defs

    config_path = str(home.config.expanduser().resolve())
    broken = {"on": False}

    class Kimera(KimeraResource):
        def sources(self) -> Sources:
            sources = make_sources(self.config())
            if broken["on"]:
                return Sources(NegativeFirstPrice(sources.exchange), sources.chain, sources.dex)
            return sources

    defs = Definitions.merge(
        ingest_defs(config),
        features_defs(config),
        Definitions(
            resources={
                "warehouse": WarehouseResource(database=str(home.warehouse_path)),
                "kimera": Kimera(config_path=config_path),
            },
            executor=in_process_executor,
        ),
    )
    hour = config.start_time + timedelta(days=8)
    with DagsterInstance.ephemeral() as instance:
        tick = evaluate_automation_conditions(defs, instance, evaluation_time=hour + timedelta(minutes=65))
        assert tick.get_num_requested(FEATURES) == 0  # nothing ingested yet: raw partitions are missing

        assert run_job("ingest_reference", instance, defs=defs).success
        assert run_job("ingest_raw", instance, window=(hour, hour + timedelta(hours=1)), defs=defs).success
        tick = evaluate_automation_conditions(
            defs, instance, evaluation_time=hour + timedelta(minutes=65), cursor=tick.cursor
        )
        assert tick.get_requested_partitions(FEATURES) == {partition_key(hour)}
        assert tick.get_requested_partitions(TRADES_STAGING) == {partition_key(hour)}

        # The next hour's trades come with a negative price: the ingest run's blocking check fails.
        broken["on"] = True
        later = hour + timedelta(hours=1)
        outcome = run_job("ingest_raw", instance, window=(later, later + timedelta(hours=1)), defs=defs)
        assert not outcome.success and "raw__exchange_trades_quality" in outcome.failed_steps
        tick = evaluate_automation_conditions(
            defs, instance, evaluation_time=later + timedelta(minutes=65), cursor=tick.cursor
        )
        assert tick.get_num_requested(TRADES_STAGING) == 0
        assert tick.get_num_requested(FEATURES) == 0
        # data whose checks passed still flows: the chain models of that hour are requested
        assert tick.get_requested_partitions(BLOCKS_STAGING) == {partition_key(later)}
