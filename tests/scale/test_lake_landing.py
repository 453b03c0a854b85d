"""The live loop's record on the lake (``KIMERA_LAKE_URL``, moto's S3 server): the landing job turns
each landed file (``raw.live_predictions``, the feed's trades) into one lake object that the
``raw.*`` views read, idempotent per file, with no local warehouse opened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import DagsterInstance, Definitions, build_sensor_context

from kimera.schema import EXCHANGE_TRADES
from kimera.settings import get_settings
from live.landing import land_market_rows, land_predictions
from pipelines.lake.landing import land_file_on_lake, landed_object, load_pending_to_lake
from pipelines.lake.resource import lake_of, lake_warehouse
from pipelines.lake.store import lake_reader
from pipelines.landing.definitions import defs
from pipelines.landing.files import land, loaded, pending
from pipelines.landing.sensors import landing_sensor
from tests.live.test_landing import T, decision
from tests.pipelines.landing.test_load import _trades
from tests.support.servers import s3_server  # noqa: F401  (fixture)


@pytest.mark.slow  # a Dagster job and moto's server: ~35 s on a loaded 2-core machine
def test_landed_predictions_and_trades_become_lake_files_once_each(
    s3_server,  # noqa: F811
    kimera_home,
    monkeypatch,
) -> None:
    monkeypatch.setenv("KIMERA_LAKE_URL", f"s3://{s3_server.bucket}/lake")
    monkeypatch.setenv("KIMERA_LAKE_ENDPOINT_URL", s3_server.endpoint_url)
    get_settings.cache_clear()
    settings = get_settings()
    landing, lake = settings.landing_dir, lake_of(settings)
    land_predictions(landing, [decision("BTC", True), decision("ETH", False)], T + timedelta(seconds=1))
    land_market_rows(landing, EXCHANGE_TRADES.name, _trades(0, 5))

    # the sensor asks for a run, and the job (bound as the code location binds it) writes the lake
    instance = DagsterInstance.ephemeral()
    with build_sensor_context(instance=instance) as context:
        request = landing_sensor(context)
    bound = Definitions.merge(defs, Definitions(resources={"warehouse": lake_warehouse(settings)}))
    result = bound.get_job_def("load_landed_job").execute_in_process(
        run_config=request.run_config, instance=instance
    )
    assert result.success
    assert pending(landing) == [] and len(loaded(landing)) == 2
    assert all(lake.fs.exists(landed_object(lake, f)) for f in loaded(landing))
    assert not settings.warehouse_path.exists()  # the lake is the record; no local warehouse
    with lake_reader(lake) as con:
        predictions = con.execute(
            "select asset, traded, reason, round(features_ms, 6) from raw.live_predictions order by asset"
        ).fetchall()
        trades = con.execute("select count(*) from raw.exchange_trades").fetchone()[0]
    assert predictions == [("BTC", True, None, 200.0), ("ETH", False, "stale model", 200.0)]
    assert trades == 5

    # a run that died after the upload, before the move: the file is only moved, its rows not doubled
    again = land(landing, EXCHANGE_TRADES, "binance", _trades(5, 5))
    assert land_file_on_lake(lake, again) == 5
    written = lake.fs.cat(landed_object(lake, again))
    report = load_pending_to_lake(lake, landing)
    assert (report.files, report.skipped) == (0, 1) and pending(landing) == []
    assert lake.fs.cat(landed_object(lake, again)) == written
    with lake_reader(lake) as con:
        assert con.execute("select count(*) from raw.exchange_trades").fetchone()[0] == 10

    # a file that repeats a natural key is refused: nothing reaches the lake, the file stays pending
    bad = land(landing, EXCHANGE_TRADES, "binance", _trades(20, 2).take([0, 0]))
    with pytest.raises(ValueError, match=r"1 duplicate natural key\(s\) .* the file is not loaded"):
        load_pending_to_lake(lake, landing)
    assert not lake.fs.exists(landed_object(lake, bad)) and [f.path for f in pending(landing)] == [bad.path]
