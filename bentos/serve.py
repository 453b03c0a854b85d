"""Running the model server: ``kimera serve`` in the foreground, or a server for the length of a block.

Both run ``bentoml serve`` in a child process with the tool environment (``KIMERA_HOME``,
``BENTOML_HOME`` under it, telemetry off), from the repository root, so the server sees the same
model store and promotion pointer as the rest of Kimera.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kimera.settings import Settings, get_settings, prepare_home

ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the bentos package
SERVICE = "bentos.service:Forecaster"


class ServerFailed(RuntimeError):
    """The server exited or did not become ready; the message carries the end of its log."""


def bentoml_command(host: str, port: int, target: str = SERVICE, model: str | None = None) -> list[str]:
    """``bentoml serve`` of ``target`` (the service, or a bento tag), optionally pinned to ``model``."""
    command = [
        sys.executable, "-m", "bentoml", "serve", target, "--host", host, "--port", str(port),
        "--working-dir", str(ROOT),
    ]  # fmt: skip
    if model:
        command += ["--arg", f"model={model}"]
    return command


def serve_cli(port: int | None = None, host: str | None = None, model: str | None = None) -> None:
    """``kimera serve``: the promoted model on ``serving.host:serving.port`` until Ctrl-C."""
    import click

    from kimera.config import load_config

    settings = prepare_home()
    serving = load_config(settings=settings).serving
    host, port = host or serving.host, port or serving.port
    _check_servable(settings, model)
    click.echo(
        f"serving on http://{host}:{port} (POST /predict, /predict_batch, /predict_array; GET /v1/models, /v1/health)"
    )
    # become the server (same process): Ctrl-C, SIGTERM and supervisors reach it directly
    os.chdir(ROOT)
    os.execve(sys.executable, bentoml_command(host, port, model=model), settings.tool_environment())


def _check_servable(settings: Settings, model: str | None) -> None:
    """Fail before starting a server when there is nothing to serve, saying what to do."""
    from kimera.config import ConfigError
    from models.promoted import pointer_path, read_promoted

    if model is None and read_promoted(settings) is None:
        raise ConfigError(
            f"nothing to serve: no model was promoted yet ({pointer_path(settings)} is missing); run "
            "`kimera demo`, or materialise serving/promoted_model in Dagster, or pass --model TAG"
        )


@contextmanager
def running_server(
    port: int,
    *,
    host: str = "127.0.0.1",
    target: str = SERVICE,
    model: str | None = None,
    settings: Settings | None = None,
    ready_timeout_s: float = 120.0,
    log_path: Path | None = None,
) -> Iterator[str]:
    """A model server for the block; yields its URL once ``/readyz`` answers 200, stops it after.

    The server runs in its own process group, so stopping it stops its workers too. Its output goes
    to ``log_path`` (default: ``KIMERA_HOME/serving/server-<port>.log``).
    """
    import httpx

    settings = settings or get_settings()
    log_path = log_path or settings.home_dir / "serving" / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            bentoml_command(host, port, target, model),
            env=settings.tool_environment(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_ready(process, url, ready_timeout_s, log_path, httpx)
            yield url
        finally:
            _stop(process)


def _wait_ready(process: subprocess.Popen, url: str, timeout_s: float, log_path: Path, httpx) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerFailed(f"the model server exited with {process.returncode}:\n{_tail(log_path)}")
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise ServerFailed(f"the model server at {url} was not ready after {timeout_s:.0f} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
