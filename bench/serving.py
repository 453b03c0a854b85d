"""Serving benchmark: what the model server adds to the model's own forward pass, and its throughput.

A small ensemble (LSTM, Transformer, ridge, LightGBM) is trained on a synthetic world, saved,
promoted and served by ``bentoml serve`` (one worker) on loopback. Measures, each beside a
baseline from the same run:

- batch-1 latency over HTTP (``POST /predict``, keep-alive client) against the raw in-process
  ``model.predict`` of the same model on the same windows, calls interleaved so both see the same
  machine load; goal: at most 2 ms added at p50 and 5 ms at p99;
- batched throughput, 2000 windows a call, against the in-process forward on the same windows
  (goal >= 10k predictions/s): ``POST /predict_array`` (one ``.npy`` array, the bulk path) and
  ``POST /predict_batch`` (JSON objects: parsing the numbers of the windows bounds it);
- concurrent single-window clients on ``/predict_batch`` (adaptive batching) against the same
  clients on ``/predict``: throughput ratio, and the share of calls shed with 503 (goal: none).
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

import bench

LATENCY_CALLS, QUICK_LATENCY_CALLS = 1500, 200
BATCH, BATCH_CALLS, QUICK_BATCH_CALLS = 2000, 8, 3
CLIENTS, CONCURRENT_S, QUICK_CONCURRENT_S = 32, 8.0, 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def promoted_model(home: Path):
    """Train, save and promote a small ensemble under ``home``; return (settings, model, tag)."""
    from kimera.config import ModelsConfig
    from kimera.settings import Settings
    from models.marts import align
    from models.promoted import write_promoted
    from models.registry import load_model, save_model
    from models.synthetic import make_world
    from models.walk_forward import train_final
    from models.windows import make_windows

    settings = Settings(home=home)
    cfg = ModelsConfig.model_validate(
        {
            "seq_len": 16, "train_bars": 500, "val_bars": 120, "test_bars": 150, "seeds": [0],
            "max_epochs": 6, "patience": 3, "lstm": {"hidden": 32}, "transformer": {"d_model": 32},
            "lightgbm": {"n_estimators": 150},
        }
    )  # fmt: skip
    world = make_world(bars=900, strength=0.4, seed=3)
    windows = make_windows(align(world.features, world.labels, 1), cfg.seq_len)
    ensemble = train_final(windows, cfg)["ensemble"]
    stored = save_model(ensemble, data_window=(datetime(2026, 1, 1), datetime(2026, 2, 1)), settings=settings)
    write_promoted(stored.tag, "bench", settings)
    return settings, load_model(stored.tag, settings), stored.tag


class Client:
    """A keep-alive HTTP/1.1 client with the least per-call work (what a latency-minded caller uses)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        self.conn.request("POST", path, body, {"Content-Type": content_type})
        response = self.conn.getresponse()
        return response.status, response.read()


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def latency(port: int, model, windows: np.ndarray, calls: int) -> dict[str, float]:
    client = Client(port)
    bodies = [_compact({"asset": "BTC", "window": w.tolist()}) for w in windows[:calls]]
    for body in bodies[:30]:  # warm both paths
        client.post("/predict", body)
        model.predict(windows[:1], ["BTC"])
    served, raw = [], []
    for i, body in enumerate(bodies):
        t0 = time.perf_counter()
        status, _ = client.post("/predict", body)
        served.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"/predict answered {status}")
        t0 = time.perf_counter()
        model.predict(windows[i : i + 1], ["BTC"])
        raw.append(time.perf_counter() - t0)
    return {f"{name}_p{q}": _pct(v, q) for name, v in (("http", served), ("raw", raw)) for q in (50, 99)}


def _compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _multipart(windows: np.ndarray, assets: list[str]) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    np.save(buffer, windows)
    boundary = "kimera-bench-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="assets"\r\n\r\n'.encode() + _compact(assets),
        f'--{boundary}\r\nContent-Disposition: form-data; name="windows"; filename="windows.npy"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + buffer.getvalue(),
    ]
    return b"\r\n".join(
        parts
    ) + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def throughput(port: int, model, windows: np.ndarray, calls: int) -> dict[str, float]:
    """Predictions per second: /predict_array, /predict_batch (JSON), and the raw forward, same batches."""
    client = Client(port)
    batch = windows[:BATCH]
    assets = ["ETH"] * len(batch)
    array_body, array_type = _multipart(batch, assets)
    json_body = _compact({"windows": [{"asset": "ETH", "window": w.tolist()} for w in batch]})
    rates = {}
    for name, path, body, content_type in (
        ("array", "/predict_array", array_body, array_type),
        ("json", "/predict_batch", json_body, "application/json"),
    ):
        client.post(path, body, content_type)
        t0 = time.perf_counter()
        for _ in range(calls):
            status, answer = client.post(path, body, content_type)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {answer[:300]!r}")
        rates[name] = calls * len(batch) / (time.perf_counter() - t0)
    model.predict(batch, assets)
    t0 = time.perf_counter()
    for _ in range(calls):
        model.predict(batch, assets)
    rates["raw"] = calls * len(batch) / (time.perf_counter() - t0)
    return rates


def concurrent(port: int, windows: np.ndarray, path: str, seconds: float) -> tuple[float, float]:
    """``CLIENTS`` threads sending one window a call for ``seconds``: (predictions/s, share shed)."""
    one = {"asset": "BTC", "window": windows[0].tolist()}
    body = _compact({"windows": [one]} if path == "/predict_batch" else one)
    counts = {"ok": 0, "shed": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        client, ok, shed = Client(port), 0, 0
        while time.perf_counter() < deadline:
            status, _ = client.post(path, body)
            ok += status == 200
            shed += status == 503
        with lock:
            counts["ok"] += ok
            counts["shed"] += shed

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = counts["ok"] + counts["shed"]
    return counts["ok"] / elapsed, counts["shed"] / max(total, 1)


def run(quick: bool = False) -> list[bench.Measure]:
    import torch

    from bentos.serve import running_server

    torch.set_num_threads(1)  # as the server does
    with tempfile.TemporaryDirectory(prefix="kimera-bench-serving-") as tmp:
        settings, model, _ = promoted_model(Path(tmp))
        rng = np.random.default_rng(0)
        windows = rng.standard_normal((BATCH, model.seq_len, len(model.feature_names)))
        port = free_port()
        with running_server(port, settings=settings):
            lat = latency(port, model, windows, QUICK_LATENCY_CALLS if quick else LATENCY_CALLS)
            rates = throughput(port, model, windows, QUICK_BATCH_CALLS if quick else BATCH_CALLS)
            seconds = QUICK_CONCURRENT_S if quick else CONCURRENT_S
            batched_rate, shed = concurrent(port, windows, "/predict_batch", seconds)
            single_rate, _ = concurrent(port, windows, "/predict", seconds)
    added50, added99 = lat["http_p50"] - lat["raw_p50"], lat["http_p99"] - lat["raw_p99"]
    return [
        bench.Measure("serving batch-1 HTTP p50", lat["http_p50"], "ms", "raw torch forward p50 (in-process)",
                      lat["raw_p50"], lat["http_p50"] / lat["raw_p50"], f"added {added50:.2f} <= 2 ms", added50 <= 2.0),
        bench.Measure("serving batch-1 HTTP p99", lat["http_p99"], "ms", "raw torch forward p99 (in-process)",
                      lat["raw_p99"], lat["http_p99"] / lat["raw_p99"], f"added {added99:.2f} <= 5 ms", added99 <= 5.0),
        bench.Measure(f"serving throughput, .npy array ({BATCH}/call)", rates["array"], "pred/s",
                      "raw forward, same batches (in-process)", rates["raw"], rates["array"] / rates["raw"],
                      ">= 10000 pred/s", rates["array"] >= 10_000),
        bench.Measure(f"serving throughput, JSON batch ({BATCH}/call)", rates["json"], "pred/s",
                      "raw forward, same batches (in-process)", rates["raw"], rates["json"] / rates["raw"],
                      ">= 10000 pred/s", rates["json"] >= 10_000),
        bench.Measure(f"adaptive batching, {CLIENTS} clients x 1 window", batched_rate, "pred/s",
                      "same clients on unbatched /predict", single_rate, batched_rate / single_rate,
                      f"ratio > 1, shed {shed:.1%} = 0", shed == 0 and batched_rate > single_rate),
    ]  # fmt: skip
