"""Schema-driven fuzzing of the running service (schemathesis), every request validly signed: no 5xx.

The service runs as ``kimera execute`` would run it (its own process, uvicorn, signed-request
middleware, paper venues in a process of their own); requests are generated from its OpenAPI,
valid ones and malformed ones, for every operation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr

from kimera.signing import sign_request
from tests.execution.conftest import (
    FAST,
    REPO_ROOT,
    free_port,
    signal,
    start_paper,
    stop,
    wait_http,
    write_config,
)

SECRET = "fuzz-signing-secret-5d7e9f1a3c5e7a9b"


class SignedRequests(requests.auth.AuthBase):
    """Signs each prepared request exactly as it goes on the wire (requests' side of kimera.signing)."""

    def __init__(self, key_id: str, secret: str):
        self.key_id, self.secret = key_id, SecretStr(secret)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body.encode() if isinstance(r.body, str) else r.body
        r.headers.update(sign_request(r.method, r.path_url, body, self.key_id, self.secret))
        return r


@pytest.fixture(scope="module")
def running_service(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzz")
    paper_port, port = free_port(), free_port()
    cfg = {
        **FAST,
        "port": port,
        "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{paper_port}", "port": paper_port},
    }
    config = write_config(tmp / "kimera.yaml", cfg)
    env = dict(os.environ, KIMERA_HOME=str(tmp / "home"), KIMERA_CONFIG=str(config), PYTHONPATH=str(REPO_ROOT),
               KIMERA_SECRET_EXECUTION_KEY_LOCAL=SECRET, KIMERA_LOG_LEVEL="WARNING")  # fmt: skip
    old = {k: os.environ.get(k) for k in ("KIMERA_CONFIG", "KIMERA_HOME")}
    os.environ.update(KIMERA_CONFIG=str(config), KIMERA_HOME=str(tmp / "home"))  # the paper server's config
    paper = start_paper(config, paper_port)
    service = subprocess.Popen(
        [sys.executable, "-m", "execution.app", "--port", str(port)], cwd=REPO_ROOT, env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", service, timeout=60)
        yield url
    finally:
        stop(service)
        stop(paper.proc)
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.mark.slow
def test_every_operation_fuzzed_with_valid_signatures_never_gets_a_server_error(running_service):
    import schemathesis
    from schemathesis.generation import GenerationMode

    from execution.status import STATUS_PATH

    session = requests.Session()
    session.auth = SignedRequests("local", SECRET)
    schema = schemathesis.openapi.from_url(f"{running_service}/openapi.json", auth=session.auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for i in range(5):  # real trading first, so the reads, traces and reports have something to chew on
        answer = session.post(
            f"{running_service}/signals", json=signal(i, forecast=0.004 * (-1) ** i), timeout=15
        )
        assert answer.status_code == 200 and answer.json()["outcome"] in ("orders", "no_change"), answer.text
    seen: dict[str, set[int]] = {}

    def fuzz(operation, mode) -> None:
        label = operation.label

        @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case) -> None:
            response = case.call(base_url=running_service, session=session, timeout=15)
            seen.setdefault(label, set()).add(response.status_code)
            assert response.status_code < 500, (label, case.body, response.text[:300])
            if label == f"GET {STATUS_PATH}":
                # the status page's credential is its view token (a browser cannot sign), not an API
                # key: a signed request without the token gets 401 (422 when malformed), never the page
                assert response.status_code in (401, 422) and "positions" not in response.text.lower(), label
            else:
                assert response.status_code != 401, (label, response.text[:300])  # signed, so never refused

        try:
            check()
        except Unsatisfiable:  # an operation with no input has no malformed version
            assert mode is GenerationMode.NEGATIVE, label

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)
    statuses = set().union(*seen.values())
    assert 200 in statuses and 422 in statuses, (
        seen
    )  # valid requests got through, malformed ones were answered 4xx
    unsigned = requests.post(f"{running_service}/signals", json={}, timeout=5)
    assert unsigned.status_code == 401
