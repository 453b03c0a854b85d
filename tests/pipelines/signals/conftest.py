"""A served KIMERA_HOME and a small execution service on loopback that takes signals by the contract.

The execution service is a real FastAPI app under uvicorn (docs/contracts.md: ``POST /signals``,
idempotent by ``signal_id``; ``GET /healthz``), standing in until ``execution/`` lands on main.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from types import SimpleNamespace

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tests.bentos.world import install, trained, write_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal_id: str = Field(min_length=1)
    asset: str
    model_tag: str
    prediction_id: str
    feature_time: datetime
    horizon: int = Field(ge=1)
    forecast: float
    lower: float
    upper: float
    p_up: float = Field(ge=0, le=1)


def execution_app(received: list[dict]) -> FastAPI:
    app = FastAPI()
    answers: dict[str, dict] = {}

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/signals")
    def signals(signal: SignalIn):
        if signal.signal_id in answers:  # idempotent: a repeat gets the first answer
            return JSONResponse({**answers[signal.signal_id], "duplicate": True})
        received.append(signal.model_dump(mode="json"))
        answers[signal.signal_id] = {"signal_id": signal.signal_id, "outcome": "orders", "duplicate": False}
        return answers[signal.signal_id]

    return app


@pytest.fixture
def execution_service():
    """A running execution service on loopback: its URL and the signals it took (in order)."""
    received: list[dict] = []
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(execution_app(received), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the execution stand-in did not start"
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", received=received)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def signals_home(kimera_home, tmp_path, monkeypatch):
    """KIMERA_HOME with marts, the promoted ensemble and a linear model; the model server port is free."""
    from kimera.settings import get_settings

    port = free_port()
    config = write_config(tmp_path / "kimera.yaml", serving={"port": port, "signals": {"max_bars": 48}})
    monkeypatch.setenv("KIMERA_CONFIG", str(config))
    get_settings.cache_clear()
    settings = get_settings()
    world = trained()
    tags = install(settings, world)
    return SimpleNamespace(settings=settings, tags=tags, trained=world, model_url=f"http://127.0.0.1:{port}")
