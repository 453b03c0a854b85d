"""Signals: the served model's predictions for the newest bars land in ml.predictions, and the newest
per asset reach the execution service once, by the contract."""

from __future__ import annotations

import dagster as dg
import duckdb
import httpx
import numpy as np
import pytest

from kimera.signing import client_auth
from pipelines.resources import WarehouseResource
from pipelines.signals.assets import SIGNALS_ASSETS
from pipelines.signals.resources import ExecutionResource, ModelServerResource
from tests.support.net import free_port


def _materialize(home, execution_url: str, push: str = "auto", selection=None):
    return dg.materialize(
        SIGNALS_ASSETS,
        selection=selection,
        resources={
            "warehouse": WarehouseResource(database=str(home.settings.warehouse_path)),
            "model_server": ModelServerResource(url=home.model_url, autostart=True),
            "execution": ExecutionResource(url=execution_url, push=push),
        },
        raise_on_error=False,
    )


def _table(home, sql: str):
    with duckdb.connect(str(home.settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).df()


@pytest.mark.slow
def test_predictions_of_the_newest_bars_are_stored_and_pushed_once(signals_home, execution_service) -> None:
    home, trained = signals_home, signals_home.trained
    result = _materialize(home, execution_service.url)  # no server runs: the asset starts one
    assert result.success
    stored = _table(home, "SELECT * FROM ml.predictions ORDER BY asset, feature_time")
    assert sorted(stored["asset"].unique()) == ["BTC", "ETH"]
    assert (stored.groupby("asset").size() == 48).all()  # serving.signals.max_bars per asset
    assert (stored["model_tag"] == home.tags["ensemble"]).all() and stored["prediction_id"].is_unique
    # the newest bars, after the model's training data, predicted exactly as the trained model does
    w = trained.windows
    assert (stored["feature_time"] >= trained.data_window[1]).all()
    for asset, rows in stored.groupby("asset"):
        index = np.flatnonzero(w.asset == asset)[-48:]
        assert list(rows["feature_time"]) == list(w.bar_time[index])
        expected = trained.ensemble.predict(w.x[index], w.asset[index])
        assert (
            rows["forecast"].tolist() == expected.ret.tolist()
            and rows["p_up"].tolist() == expected.p_up.tolist()
        )
        assert (
            rows["lower"].tolist() == expected.lower.tolist()
            and rows["upper"].tolist() == expected.upper.tolist()
        )

    # the newest prediction per asset reached the execution service, which decided on it
    newest = stored.sort_values("feature_time").groupby("asset").tail(1)
    pushes = _table(home, "SELECT * FROM ml.signal_pushes ORDER BY prediction_id")
    assert set(pushes["status"]) == {"accepted"}
    assert sorted(pushes["prediction_id"]) == sorted(newest["prediction_id"])
    reader = client_auth(home.settings, "local")  # reads need a known key id too
    for row in newest.itertuples():
        decided = httpx.get(f"{execution_service.url}/signals/{row.prediction_id}", auth=reader).json()
        assert decided["signal_id"] == row.prediction_id and decided["outcome"] in {
            "orders",
            "no_change",
            "refused",
        }
        for order in decided["orders"]:  # every order says which model and prediction caused it
            assert order["model_tag"] == home.tags["ensemble"] and order["prediction_id"] == row.prediction_id
    sent = pushes["sent_at"].tolist()

    again = _materialize(home, execution_service.url)  # nothing new: no prediction, no signal twice
    assert again.success
    assert len(_table(home, "SELECT * FROM ml.predictions")) == 96
    assert (
        _table(home, "SELECT sent_at FROM ml.signal_pushes ORDER BY prediction_id")["sent_at"].tolist()
        == sent
    )
    assert (
        again.asset_materializations_for_node("signals__predictions")[0].metadata["new_predictions"].value
        == 0
    )
    assert again.asset_materializations_for_node("signals__execution_push")[0].metadata["pushed"].value == 0


def test_push_waits_quietly_for_a_missing_execution_service_unless_required(signals_home) -> None:
    import pandas as pd

    from pipelines.signals.store import write_predictions

    home = signals_home
    with duckdb.connect(str(home.settings.warehouse_path)) as con:
        write_predictions(con, pd.DataFrame([{
            "prediction_id": "01JTEST", "model_tag": home.tags["ensemble"], "asset": "BTC",
            "feature_time": pd.Timestamp("2026-02-10 12:00"), "horizon": 1, "forecast": 0.001, "lower": -0.01,
            "upper": 0.012, "p_up": 0.55, "created_at": pd.Timestamp("2026-02-10 12:01"),
        }]))  # fmt: skip
    closed = f"http://127.0.0.1:{free_port()}"
    push_only = [dg.AssetKey(["signals", "execution_push"])]
    quiet = _materialize(home, closed, "auto", selection=push_only)
    assert quiet.success
    meta = quiet.asset_materializations_for_node("signals__execution_push")[0].metadata
    assert meta["pushed"].value == 0 and "no execution service answers" in meta["reason"].value
    loud = _materialize(home, closed, "required", selection=push_only)
    assert not loud.success
    failure = loud.get_step_failure_events()[0].event_specific_data.error.message
    assert "start it with `kimera execute`" in failure
    assert _table(home, "SELECT count(*) AS n FROM ml.signal_pushes")["n"][0] == 0


def test_a_push_the_service_cannot_verify_fails_loudly_and_the_signal_stays_unsent(
    signals_home, execution_service, monkeypatch
) -> None:
    """A wrong or missing key is a failed run naming the key, never a signal recorded as refused."""
    import pandas as pd

    from pipelines.signals.store import write_predictions

    home = signals_home
    with duckdb.connect(str(home.settings.warehouse_path)) as con:
        write_predictions(con, pd.DataFrame([{
            "prediction_id": "01JWRONGKEY", "model_tag": home.tags["ensemble"], "asset": "BTC",
            "feature_time": pd.Timestamp("2026-02-10 12:00"), "horizon": 1, "forecast": 0.001, "lower": -0.01,
            "upper": 0.012, "p_up": 0.55, "created_at": pd.Timestamp("2026-02-10 12:01"),
        }]))  # fmt: skip
    push_only = [dg.AssetKey(["signals", "execution_push"])]

    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_LOCAL", "not-the-secret-the-service-holds-000000")
    forged = _materialize(home, execution_service.url, "required", selection=push_only)
    assert not forged.success
    message = forged.get_step_failure_events()[0].event_specific_data.error.message
    assert "refused our signature for key 'local'" in message
    assert "not-the-secret" not in message

    monkeypatch.delenv("KIMERA_SECRET_EXECUTION_KEY_LOCAL")
    missing = _materialize(home, execution_service.url, "required", selection=push_only)
    assert not missing.success
    assert (
        "KIMERA_SECRET_EXECUTION_KEY_LOCAL"
        in missing.get_step_failure_events()[0].event_specific_data.error.message
    )
    pushes = _table(home, "SELECT status FROM ml.signal_pushes")
    assert set(pushes["status"]) <= {"sending", "failed"}  # nothing recorded as accepted or refused
