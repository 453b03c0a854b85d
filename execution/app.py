"""The execution service's ASGI app and ``kimera execute``.

``create_app(service)`` builds the FastAPI app (OpenAPI at ``/docs``); ``serve_cli(port)`` runs it
with uvicorn, starting the paper venue server as its own process when no venue server answers.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from execution.api.account_routes import account_router
from execution.api.audit_routes import audit_router
from execution.api.errors import validation_error
from execution.api.intake import SignalIntake
from execution.api.operator_routes import operator_router
from execution.api.routes import create_router, public_router
from execution.second_factor import SecondFactor
from execution.second_factor import load as load_second_factor
from execution.security_keys import SecurityKeys, keys_path
from execution.service import ExecutionService
from execution.status import STATUS_PATH, status_banner, status_router, view_token
from execution.status.controls import CONTROL_PATHS, controls_router
from execution.status.pwa import PWA_PATHS, pwa_router

# the service process's GIL switch interval (Python's default is 5 ms): see _serve
GIL_SWITCH_INTERVAL_S = 0.0005

log = logging.getLogger("kimera.execution")


def create_app(
    service: ExecutionService,
    dependencies: Sequence = (),
    status_token: str | None = None,
    second_factor: SecondFactor | None = None,
) -> FastAPI:
    """The app for ``service``; ``dependencies`` guard every trading route (issue #8: request signing).

    ``GET /status`` is the live status page for the holder of ``status_token`` (``app.state.status_token``;
    default the secret ``execution_view_token`` or a random one): see :mod:`execution.status`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Kimera execution service",
        version="1",
        description="Signals in; sizing, pre-trade risk, smart order routing and a journaled order manager.",
        lifespan=lifespan,
    )
    app.state.service = service
    if not dependencies:  # the hot path skips the routes' dependencies: only where they have none
        app.add_middleware(SignalIntake, service=service)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.include_router(public_router())
    app.include_router(create_router(dependencies))
    app.include_router(audit_router(dependencies))
    app.include_router(operator_router(dependencies))
    app.include_router(account_router(dependencies))
    # operator actions ask for it once enrolled (the secret operator_totp): docs/security.md
    app.state.second_factor = (
        second_factor if second_factor is not None else load_second_factor(service.settings)
    )
    app.state.status_token = status_token or view_token(service.settings)
    app.include_router(status_router(app.state.status_token))
    app.include_router(controls_router(app.state.status_token))
    app.include_router(pwa_router())  # the page on a phone: manifest, worker, offline shell (no data)
    app.state.security_keys = SecurityKeys(keys_path(service.settings.home_dir))  # WebAuthn, for the controls
    return app


def _paper_server_up(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/ping", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def start_paper_server(
    config_path: str | None, port: int, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start the paper venue server as its own process and wait until it answers."""
    cmd = [sys.executable, "-m", "execution.venues.server", "--port", str(port)]
    if config_path:
        cmd += ["--config", config_path]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while not _paper_server_up(url):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"paper venue server did not start on {url}")
        time.sleep(0.1)
    return proc


def serve_cli(port: int | None = None) -> None:
    """``kimera execute``: run the service on 127.0.0.1 (paper venues started when none answer)."""
    from execution import redact
    from execution.auth import ApiKeys
    from kimera.config import load_config
    from kimera.settings import get_settings, prepare_home

    settings = prepare_home(get_settings())
    config = load_config(settings=settings)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact.install()  # secrets never reach a log line, even through a library's message
    keys = ApiKeys.load(config.execution.auth, settings)  # before anything starts: a missing key fails here
    paper = None
    needs_paper = not config.execution.venues or any(v.type == "paper" for v in config.execution.venues)
    if needs_paper and _paper_server_up(config.execution.paper.url):
        print(
            f"using the paper venue server already answering at {config.execution.paper.url} "
            "(not started here, so it keeps running after this service stops)"
        )
    elif needs_paper:
        paper = start_paper_server(
            str(settings.config), config.execution.paper.port, settings.tool_environment()
        )
        print(
            f"started the paper venue server on port {config.execution.paper.port} (pid {paper.pid}); "
            "it stops with this service"
        )
    try:
        _serve(config, settings, keys, port)
    finally:
        if paper is not None:
            stop_started_process(paper, "paper venue server")


def stop_started_process(proc: subprocess.Popen, what: str) -> None:
    """Stop a server this command started (TERM, then KILL after 5 s) and say so."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    print(f"stopped the {what} it started (pid {proc.pid})", flush=True)


def _serve(config, settings, keys, port: int | None) -> None:
    """Run the service with uvicorn until it is stopped (Ctrl-C or SIGTERM both return here)."""
    import signal

    import uvicorn

    from execution.api.stream import mount_signal_stream
    from execution.auth import secure_app
    from execution.nonces import NonceStore

    service = ExecutionService(config, settings)
    app = create_app(service)
    # /status is not an API route: its own view token guards it (a browser cannot sign requests)
    auth = config.execution.auth
    auth = auth.model_copy(
        update={"public_paths": [*auth.public_paths, STATUS_PATH, *CONTROL_PATHS, *PWA_PATHS]}
    )
    # used nonces on disk, so a request captured before a restart cannot be replayed after it
    nonces = NonceStore(settings.journal_path.parent / "nonces.sqlite") if auth.persist_nonces else None
    verifier = secure_app(app, keys, auth, service.metrics.registry, nonces=nonces)
    mount_signal_stream(app, service, verifier)  # GET /signals/stream: the websocket intake
    port = port or config.execution.port
    print(
        f"execution service on http://{config.execution.host}:{port} (OpenAPI at /docs; API keys {keys.ids()})"
    )
    guarded = (
        "a second factor"
        if app.state.second_factor is not None
        else "NO second factor (`kimera operator enrol`)"
    )
    print(f"operator actions (kill switch release, risk limits, status page controls) need {guarded}")
    print(
        f"status page: {status_banner(settings, config.execution.host, port, app.state.status_token)}",
        flush=True,
    )
    # uvicorn shuts down on SIGTERM and then re-raises it to the handler it found: with Python's
    # default one the process would die there, before the servers it started are stopped
    signal.signal(signal.SIGTERM, _exit_on_term)
    # the journal's and the nonce store's writer threads give the GIL up at every SQLite call and
    # wait for it back while the event loop runs signals: at Python's default 5 ms switch interval
    # each hand-back could cost up to 5 ms of a commit the answer waits for (docs/live.md)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    # log_config=None: uvicorn's records go through our handlers (and their redaction)
    uvicorn.run(
        app, host=config.execution.host, port=port, log_level="warning", access_log=False, log_config=None
    )


def _exit_on_term(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    """``python -m execution.app [--port P]`` (what the crash test runs as its own process)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=None)
    serve_cli(parser.parse_args().port)


if __name__ == "__main__":
    main()
