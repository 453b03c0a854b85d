"""The two services the signals assets talk to: the model server and the execution service.

Both are plain HTTP on a URL from the config (``serving.signals``). Every call has a timeout and a
bounded retry with backoff on connection errors, 429 and 5xx; a 4xx other than 429 is an answer,
not a failure to retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from kimera.config import KimeraConfig

RETRIES = 4


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and (
        exc.response.status_code == 429 or exc.response.status_code >= 500
    )


_retry = retry(
    retry=retry_if_exception(_transient),
    wait=wait_exponential(multiplier=0.2, max=3),
    stop=stop_after_attempt(RETRIES),
    reraise=True,
)


class ModelServerResource(dg.ConfigurableResource):
    """The model server (``kimera serve``). With ``autostart``, a run that finds none starts one."""

    url: str
    autostart: bool = True
    timeout_s: float = 10.0

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    @contextmanager
    def session(self, log=None) -> Iterator[ModelServerClient]:
        """A client of a ready server: the one at ``url``, or one started for the block."""
        if self.answers():
            with ModelServerClient(self.url, self.timeout_s) as client:
                yield client
            return
        if not self.autostart:
            raise dg.Failure(
                f"no model server answers at {self.url}: start one with `kimera serve`, "
                "or set serving.signals.autostart: true"
            )
        from bentos.serve import running_server

        parts = urlsplit(self.url)
        if log is not None:
            log.info(f"no model server at {self.url}: starting one for this run")
        with (
            running_server(parts.port or 80, host=parts.hostname or "127.0.0.1") as url,
            ModelServerClient(url, self.timeout_s) as client,
        ):
            yield client


class ModelServerClient:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=timeout_s)

    def __enter__(self) -> ModelServerClient:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    @_retry
    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    @_retry
    def predict_batch(self, windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.http.post("/predict_batch", json={"windows": windows})
        if response.status_code == 400:
            raise dg.Failure(f"the model server refused the windows: {response.text[:2000]}")
        response.raise_for_status()
        return response.json()


class ExecutionResource(dg.ConfigurableResource):
    """The execution service's signal intake (``POST /signals``, docs/contracts.md)."""

    url: str
    push: str = "auto"  # auto | required | off
    timeout_s: float = 10.0

    def running(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    @_retry
    def post_signal(self, signal: dict[str, Any]) -> httpx.Response:
        """The service's answer to one signal; retried (the same signal_id) on transient failures."""
        response = httpx.post(f"{self.url}/signals", json=signal, timeout=self.timeout_s)
        if response.status_code == 429 or response.status_code >= 500:
            response.raise_for_status()
        return response


def signal_resources(config: KimeraConfig) -> dict[str, dg.ConfigurableResource]:
    """The resources the signals assets ask for, from the config."""
    signals = config.serving.signals
    execution_url = signals.execution_url or f"http://{config.execution.host}:{config.execution.port}"
    return {
        "model_server": ModelServerResource(
            url=config.serving.url, autostart=signals.autostart, timeout_s=signals.timeout_s
        ),
        "execution": ExecutionResource(url=execution_url, push=signals.push, timeout_s=signals.timeout_s),
    }
