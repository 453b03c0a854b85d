"""The bento, built from the repository and served by `bentoml serve` in its own process, end to end."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from tests.bentos.world import TRAIN_END
from tests.support.net import free_port


@pytest.mark.slow
def test_built_bento_serves_the_promoted_model_over_http_bit_for_bit(served) -> None:
    from bentos.build import build_bento, find_bento
    from bentos.serve import running_server
    from models.registry import code_version

    built = build_bento(served.tags["ensemble"], served.settings)
    assert built.tag.startswith("kimera-forecaster:") and not built.reused
    manifest = (built.path / "bento.yaml").read_text()
    assert f"model: {served.tags['ensemble']}" in manifest  # the build pinned the model (args and label)
    assert (built.path / "src" / "bentos" / "service.py").is_file()
    assert (built.path / "src" / "models" / "neural.py").is_file()
    if not code_version().endswith("+dirty"):
        assert str(find_bento(served.tags["ensemble"], code_version(), served.settings).tag) == built.tag

    w, ensemble = served.trained.windows, served.trained.ensemble
    index = np.flatnonzero(w.bar_time >= np.datetime64(TRAIN_END, "us"))[:64]
    expected = ensemble.predict(w.x[index], w.asset[index])
    port = free_port()
    with (
        running_server(port, target=built.tag, settings=served.settings) as url,
        httpx.Client(base_url=url) as client,
    ):
        one = client.post(
            "/predict", json={"asset": str(w.asset[index[0]]), "window": w.x[index[0]].tolist()}
        )
        batch = client.post(
            "/predict_batch",
            json={"windows": [{"asset": str(w.asset[i]), "window": w.x[i].tolist()} for i in index]},
        )
        bad = client.post("/predict", json={"asset": "BTC", "window": [[1.0, 2.0]]})
        health = client.get("/v1/health").json()

        def burst(k: int) -> list[int]:  # concurrent callers merged by adaptive batching; none shed
            with httpx.Client(base_url=url, timeout=60) as c:
                return [
                    c.post("/predict_batch", json={"windows": [{"asset": "BTC", "window": w.x[index[k]].tolist()}]}).status_code
                    for _ in range(10)
                ]  # fmt: skip

        with ThreadPoolExecutor(16) as pool:
            statuses = [s for result in pool.map(burst, range(16)) for s in result]
    assert one.status_code == 200 and batch.status_code == 200, (one.text, batch.text)
    assert one.json()["forecast"] == expected.ret[0] and one.json()["p_up"] == expected.p_up[0]
    answers = batch.json()
    assert [a["forecast"] for a in answers] == expected.ret.tolist()
    assert [a["quantiles"] for a in answers] == expected.quantiles.tolist()
    assert {a["model_tag"] for a in answers} == {served.tags["ensemble"]}
    assert bad.status_code == 400 and "takes 12 bars" in json.dumps(bad.json())
    assert health["served_model"] == served.tags["ensemble"]
    assert statuses == [200] * 160
