"""The model server in process: predictions equal the trained model's bit for bit; bad input gets a
400 that names the field and what the model accepts; models are listed and served by tag."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.bentos.world import TRAIN_END


def _after_training(served, n: int = 40) -> np.ndarray:
    """Indices of windows the models never saw (bars after their training data)."""
    w = served.trained.windows
    return np.flatnonzero(w.bar_time >= np.datetime64(TRAIN_END, "us"))[:n]


@pytest.fixture
def event_loop_for_to_sync():
    """BentoML's ``to_sync`` runs on the thread's current event loop; an earlier ``asyncio.run`` in
    this process leaves none set, so give the test its own."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def test_one_window_in_process_is_the_trained_models_forecast_bit_for_bit(
    served, event_loop_for_to_sync
) -> None:
    from bentos.schemas import WindowIn
    from bentos.service import Forecaster

    service = Forecaster()
    w, ensemble = served.trained.windows, served.trained.ensemble
    for i in _after_training(served, 5):
        expected = ensemble.predict(w.x[i : i + 1], w.asset[i : i + 1])
        got = service.to_sync.predict(WindowIn(asset=str(w.asset[i]), window=w.x[i].tolist()))
        assert got.model_tag == served.tags["ensemble"]
        assert (got.forecast, got.lower, got.upper, got.p_up) == (
            expected.ret[0], expected.lower[0], expected.upper[0], expected.p_up[0]
        )  # fmt: skip
        assert got.quantiles == expected.quantiles[0].tolist() and got.horizon == 1


def test_batch_over_asgi_keeps_order_mixes_models_and_matches_training_bit_for_bit(served, asgi_app) -> None:
    w, trained = served.trained.windows, served.trained
    index = _after_training(served, 30)
    body = [{"asset": str(w.asset[i]), "window": w.x[i].tolist()} for i in index]
    body[7]["model"] = served.tags["linear"]
    body[8]["model"] = "kimera-linear"  # a name alone is its newest version
    with TestClient(asgi_app) as client:
        response = client.post("/predict_batch", json={"windows": body})
    assert response.status_code == 200, response.text
    answers = response.json()
    ensemble = trained.ensemble.predict(w.x[index], w.asset[index])
    linear = trained.linear.predict(w.x[index], w.asset[index])
    for j, answer in enumerate(answers):
        expected, tag = (
            (linear, served.tags["linear"]) if j in (7, 8) else (ensemble, served.tags["ensemble"])
        )
        assert answer["model_tag"] == tag and answer["asset"] == str(w.asset[index[j]])
        assert answer["forecast"] == expected.ret[j] and answer["p_up"] == expected.p_up[j]
        assert answer["lower"] == expected.lower[j] and answer["upper"] == expected.upper[j]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (lambda b: b.update(window=b["window"][:5]), "window", "takes 12 bars (oldest first) x 6 features"),
        (lambda b: b["window"][3].pop(), "window", "window has 12 bars of [5, 6] features"),
        (lambda b: b.update(asset="DOGE"), "asset", "it knows ['BTC', 'ETH']"),
        (
            lambda b: b.update(model="kimera-nope"),
            "model",
            "stored models: ['kimera-ensemble', 'kimera-linear']",
        ),
        (lambda b: b.update(colour="red"), "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_request_gets_400_naming_the_field_and_what_is_accepted(
    served, asgi_app, change, field, says
) -> None:

    w = served.trained.windows
    body = {"asset": "BTC", "window": w.x[-1].tolist()}
    change(body)
    with TestClient(asgi_app) as client:
        response = client.post("/predict", json=body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"][0] == field
    assert says in detail[0]["msg"]


def test_nan_in_a_window_is_refused_with_its_position(served, asgi_app) -> None:

    window = served.trained.windows.x[-1].tolist()
    text = str({"asset": "BTC", "window": window}).replace("'", '"')
    text = text.replace(str(window[4][2]), "NaN", 1)
    with TestClient(asgi_app) as client:
        response = client.post("/predict", content=text, headers={"content-type": "application/json"})
        batch = client.post("/predict_batch", json={"windows": []})
    assert response.status_code == 400
    [error] = response.json()["detail"]
    assert error["loc"] == ["window", 4, 2] and error["msg"] == "Input should be a finite number"
    assert batch.status_code == 400 and "at least 1 item" in batch.text


def test_models_info_and_health_say_what_is_served(served, asgi_app) -> None:

    with TestClient(asgi_app) as client:
        listed = client.get("/v1/models").json()
        one = client.get(f"/v1/models/{served.tags['linear']}")
        missing = client.get("/v1/models/kimera-lstm")
        health = client.get("/v1/health").json()
        ready = client.get("/readyz")
    assert {m["tag"]: m["promoted"] for m in listed} == {
        served.tags["ensemble"]: True,
        served.tags["linear"]: False,
    }
    info = one.json()
    assert info["kind"] == "linear" and info["seq_len"] == 12 and info["assets"] == ["BTC", "ETH"]
    assert info["features"] == ["ret_1", "ret_4", "vol_24", "flow_z", "noise_a", "volume_z"]
    assert info["data_window"]["end"] == served.trained.data_window[1].isoformat()
    assert missing.status_code == 404 and "stored models" in missing.json()["detail"]
    assert health["status"] == "ok" and health["served_model"] == served.tags["ensemble"]
    assert ready.status_code == 200


def test_a_new_promotion_is_served_without_a_restart(served, asgi_app, monkeypatch) -> None:
    import bentos.catalogue
    from models.promoted import write_promoted

    monkeypatch.setattr(bentos.catalogue, "POINTER_CHECK_S", 0.0)
    window = {"asset": "ETH", "window": served.trained.windows.x[-1].tolist()}
    with TestClient(asgi_app) as client:
        before = client.post("/predict", json=window).json()["model_tag"]
        write_promoted(served.tags["linear"], "test-switch", served.settings)
        try:
            after = client.post("/predict", json=window).json()["model_tag"]
        finally:
            write_promoted(served.tags["ensemble"], "test-switch-back", served.settings)
        back = client.post("/predict", json=window).json()["model_tag"]
    assert (before, after, back) == (served.tags["ensemble"], served.tags["linear"], served.tags["ensemble"])


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_array_of_windows_gives_the_trained_models_forecasts_column_by_column(served, asgi_app) -> None:
    import json

    w, trained = served.trained.windows, served.trained
    index = _after_training(served, 100)
    with TestClient(asgi_app) as client:
        response = client.post(
            "/predict_array",
            files={
                "windows": ("windows.npy", _npy(w.x[index].astype(np.float64)), "application/octet-stream")
            },
            data={"assets": json.dumps([str(a) for a in w.asset[index]]), "model": served.tags["linear"]},
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = trained.linear.predict(w.x[index], w.asset[index])
    assert answer["model_tag"] == served.tags["linear"] and answer["levels"] == [0.1, 0.5, 0.9]
    assert answer["forecast"] == expected.ret.tolist() and answer["p_up"] == expected.p_up.tolist()
    assert answer["quantiles"] == expected.quantiles.tolist() and answer["upper"] == expected.upper.tolist()


@pytest.mark.parametrize(
    ("windows", "assets", "model", "status", "says"),
    [
        (b"not an array", ["BTC"], None, 400, "windows must be a .npy file written by numpy.save"),
        (np.zeros((2, 12, 5)), ["BTC", "ETH"], None, 400, "windows must have shape (n, 12, 6)"),
        (np.zeros((2, 12, 6)), ["BTC"], None, 400, "got 2 windows but 1 assets"),
        (np.full((1, 12, 6), np.nan), ["BTC"], None, 400, "NaN or infinite"),
        (np.zeros((1, 12, 6)), ["XRP"], None, 400, "asset 'XRP' was not in the training data"),
        (
            np.zeros((1, 12, 6)),
            ["BTC"],
            "kimera-nope",
            404,
            "stored models: ['kimera-ensemble', 'kimera-linear']",
        ),
    ],
)
def test_a_bad_array_request_says_what_is_wrong(
    served, asgi_app, windows, assets, model, status, says
) -> None:
    import json

    content = windows if isinstance(windows, bytes) else _npy(windows)
    data = {"assets": json.dumps(assets)} | ({"model": model} if model else {})
    with TestClient(asgi_app) as client:
        response = client.post(
            "/predict_array", files={"windows": ("w.npy", content, "application/octet-stream")}, data=data
        )
    assert response.status_code == status and says in response.text, response.text
