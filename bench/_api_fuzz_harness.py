"""Schema-driven fuzzing of the running execution service (schemathesis), every request validly
signed: per operation, generated valid and malformed requests; then stateful sequences that follow
OpenAPI links (a signal's answer leads to its orders, their trace and cancel; orders to their
signal). Used by ``kimera bench api_fuzz`` (1,000 per operation) and by the CI test
(tests/execution/test_auth_fuzz.py, a few examples). Shipped with the benchmarks, so it starts the
service and its paper venues itself, as ``bench/execution.py`` does.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from pydantic import SecretStr

from bench.execution import _port, _wait, stop_process
from kimera.signing import sign_request

ROOT = Path(__file__).resolve().parent.parent
SECRET = "fuzz-signing-secret-5d7e9f1a3c5e7a9b"  # a throwaway API key for the service under test
KEY_ID = "local"

# Links the harness adds to the service's OpenAPI, so that sequences reach the resources a signal makes.
_ORDER = "$response.body#/orders/0/client_order_id"
LINKS = {
    ("/signals", "post"): {
        "GetSignal": ("/signals/{signal_id}", "get", {"signal_id": "$response.body#/signal_id"}),
        "GetOrder": ("/orders/{client_order_id}", "get", {"client_order_id": _ORDER}),
        "TraceOrder": ("/orders/{client_order_id}/trace", "get", {"client_order_id": _ORDER}),
        "CancelOrder": ("/orders/{client_order_id}/cancel", "post", {"client_order_id": _ORDER}),
    },
    ("/orders/{client_order_id}", "get"): {
        "GetItsSignal": ("/signals/{signal_id}", "get", {"signal_id": "$response.body#/signal_id"}),
        "CancelIt": ("/orders/{client_order_id}/cancel", "post", {"client_order_id": "$response.body#/client_order_id"}),
        "TraceIt": ("/orders/{client_order_id}/trace", "get", {"client_order_id": "$response.body#/client_order_id"}),
    },
    ("/orders/{client_order_id}/cancel", "post"): {
        "GetCancelled": ("/orders/{client_order_id}", "get", {"client_order_id": "$response.body#/client_order_id"}),
    },
}  # fmt: skip


class SignedRequests(requests.auth.AuthBase):
    """Signs each prepared request exactly as it goes on the wire (requests' side of kimera.signing)."""

    def __init__(self, key_id: str = KEY_ID, secret: str = SECRET):
        self.key_id, self.secret = key_id, SecretStr(secret)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body.encode() if isinstance(r.body, str) else r.body
        r.headers.update(sign_request(r.method, r.path_url, body, self.key_id, self.secret))
        return r


@dataclass
class FuzzReport:
    """What the fuzzing saw: status codes per operation, and every answer that broke a rule."""

    statuses: dict[str, Counter] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    calls: int = 0
    seconds: float = 0.0
    stateful_steps: int = 0
    no_input: set[str] = field(default_factory=set)  # operations without parameters or body

    def record(self, label: str, status: int, body: object, text: str, status_path: str) -> None:
        self.calls += 1
        self.statuses.setdefault(label, Counter())[status] += 1
        if status >= 500:
            self.problems.append(f"{label}: {status} for {str(body)[:200]} -> {text[:300]}")
        elif label == f"GET {status_path}":
            # the status page's credential is its view token (a browser cannot sign), not an API key
            if status not in (401, 422) or "positions" in text.lower():
                self.problems.append(f"{label}: answered {status} to a signed request without its view token")
        elif status == 401:
            self.problems.append(f"{label}: a validly signed request was refused: {text[:200]}")

    def fewest_with_input(self) -> int:
        """Requests sent to the least-fuzzed operation that takes input (hypothesis stops early on
        an operation whose whole input space it has tried)."""
        return min(sum(c.values()) for label, c in self.statuses.items() if label not in self.no_input)

    @property
    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for s, n in counts.items() if s >= 500)


def signed_session() -> requests.Session:
    session = requests.Session()
    session.auth = SignedRequests()
    return session


# the service's limits for a fuzz run: fast polls, generous venue rate limits, no slicing
FAST = {
    "oms": {"venue_timeout_s": 1.0, "fill_poll_interval_s": 0.05, "reconcile_interval_s": 1.0, "unknown_grace_s": 0.2,
            "backoff_base_s": 0.02, "backoff_max_s": 0.3, "ack_wait_s": 2.0},
    "routing": {"slice_threshold_notional": 1.0e9, "book_max_age_s": 10.0},
    "risk": {"max_order_notional": 1.0e6},
    "paper": {"rate_limit_per_s": {"alpha": 500, "bravo": 500, "charlie": 500, "uniswap_v2_weth_usdc": 100,
                                   "uniswap_v2_wbtc_usdc": 100}},
}  # fmt: skip


@contextlib.contextmanager
def running_service(folder: Path | None = None) -> Iterator[str]:
    """The service as ``kimera execute`` runs it (own process, uvicorn, signing) and its paper venues."""
    import yaml

    with contextlib.ExitStack() as stack:
        tmp = folder or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kimera-fuzz-")))
        paper_port, port = _port(), _port()
        data = yaml.safe_load((ROOT / "kimera.yaml").read_text())
        execution = data.setdefault("execution", {})
        for key, value in {**FAST, "port": port}.items():
            execution[key] = {**execution.get(key, {}), **value} if isinstance(value, dict) else value
        execution["paper"].update(url=f"http://127.0.0.1:{paper_port}", port=paper_port)
        config = tmp / "kimera.yaml"
        config.write_text(yaml.safe_dump(data))
        env = dict(os.environ, PYTHONPATH=str(ROOT), KIMERA_HOME=str(tmp / "home"), KIMERA_CONFIG=str(config),
                   KIMERA_SECRET_EXECUTION_KEY_LOCAL=SECRET, KIMERA_LOG_LEVEL="WARNING")  # fmt: skip
        paper = subprocess.Popen([sys.executable, "-m", "execution.venues.server", "--port", str(paper_port),
                                  "--config", str(config)], cwd=ROOT, env=env)  # fmt: skip
        stack.callback(stop_process, paper)
        _wait(f"http://127.0.0.1:{paper_port}/ping", paper, timeout=90)
        service = subprocess.Popen([sys.executable, "-m", "execution.app", "--port", str(port)], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        stack.callback(stop_process, service)
        url = f"http://127.0.0.1:{port}"
        _wait(f"{url}/healthz", service, timeout=90)
        yield url


def signal_body(i: int, forecast: float = 0.004, asset: str = "BTC") -> dict:
    """A valid signal (docs/contracts.md)."""
    return {"signal_id": f"fuzz-{i}", "asset": asset, "model_tag": "fuzz-model", "prediction_id": f"fuzz-pred-{i}",
            "feature_time": "2026-04-01T00:00:00", "horizon": 1, "forecast": forecast, "lower": forecast - 0.01,
            "upper": forecast + 0.01, "p_up": 0.6}  # fmt: skip


def trade_a_little(url: str, session: requests.Session, signals: int = 5) -> None:
    """Real trading first, so that the reads, traces and reports have something to chew on."""
    for i in range(signals):
        answer = session.post(f"{url}/signals", json=signal_body(i, 0.004 * (-1) ** i), timeout=15)
        if answer.status_code != 200 or answer.json()["outcome"] not in ("orders", "no_change"):
            raise RuntimeError(f"a valid signal was not traded: {answer.status_code} {answer.text[:300]}")


def _schema(url: str, session: requests.Session):
    import schemathesis

    spec = session.get(f"{url}/openapi.json", timeout=15).json()
    for (path, method), links in LINKS.items():
        answer = spec["paths"][path][method]["responses"].setdefault("200", {"description": "OK"})
        answer["links"] = {
            name: {
                "operationRef": "#/paths/" + target.replace("/", "~1") + "/" + verb,
                "parameters": parameters,
            }
            for name, (target, verb, parameters) in links.items()
        }
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=url)
    return schema


def fuzz_operations(
    url: str,
    session: requests.Session,
    examples: int,
    report: FuzzReport | None = None,
    derandomize: bool = False,
) -> FuzzReport:
    """``examples`` valid and ``examples`` malformed requests per operation (fewer where the input space is smaller).

    ``derandomize``: the same examples on every run (CI's fixed sample); otherwise fresh ones each run."""
    from schemathesis.generation import GenerationMode

    from execution.status import STATUS_PATH

    report = report or FuzzReport()
    schema = _schema(url, session)
    operations = [result.ok() for result in schema.get_all_operations()]
    began = time.perf_counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_one(operation, mode, url, session, examples, report, STATUS_PATH, derandomize)
    report.seconds += time.perf_counter() - began
    return report


def _fuzz_one(
    operation,
    mode,
    url: str,
    session,
    examples: int,
    report: FuzzReport,
    status_path: str,
    derandomize: bool = False,
) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    label = operation.label
    parts = (operation.path_parameters, operation.headers, operation.cookies, operation.query, operation.body)
    if mode is GenerationMode.NEGATIVE and not any(part.items for part in parts):
        report.no_input.add(label)  # nothing to malform
        return

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=derandomize)  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        response = case.call(base_url=url, session=session, timeout=15)
        report.record(label, response.status_code, case.body, response.text, status_path)

    try:
        check()
    except Unsatisfiable:  # an operation with no input has no malformed version
        if mode is not GenerationMode.NEGATIVE:
            raise
        report.no_input.add(label)


def fuzz_stateful(url: str, session: requests.Session, sequences: int, steps: int = 8,
                  report: FuzzReport | None = None, derandomize: bool = False) -> FuzzReport:  # fmt: skip
    """``sequences`` random sequences of up to ``steps`` calls that follow the OpenAPI links
    (``derandomize``: the same sequences on every run)."""
    from hypothesis import HealthCheck, settings

    from execution.status import STATUS_PATH

    report = report or FuzzReport()
    schema = _schema(url, session)

    @schema.hook
    def map_body(context, body):
        # a generated signal is nearly never valid (its asset must be configured, lower <= forecast
        # <= upper): make it so, keeping the rest as generated, so that sequences reach real orders
        if (
            context.operation is None
            or context.operation.label != "POST /signals"
            or not isinstance(body, dict)
        ):
            return body
        up = not (isinstance(body.get("forecast"), int | float) and body["forecast"] < 0)
        forecast = 0.004 if up else -0.004
        asset = "BTC" if len(str(body.get("signal_id", ""))) % 2 else "ETH"
        return {
            **body,
            "asset": asset,
            "forecast": forecast,
            "lower": forecast - 0.002,
            "upper": forecast + 0.002,
        }

    machine = schema.as_state_machine()

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            return {"session": session, "timeout": 15, "base_url": url}

        def after_call(self, response, case):
            report.stateful_steps += 1
            report.record(case.operation.label, response.status_code, case.body, response.text, STATUS_PATH)

        def validate_response(self, response, case, **kwargs):
            return None  # the rules are checked in after_call; schema conformance is not this test's subject

    began = time.perf_counter()
    Sequences.run(
        settings=settings(
            max_examples=sequences,
            stateful_step_count=steps,
            deadline=None,
            derandomize=derandomize,
            database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
    )
    report.seconds += time.perf_counter() - began
    return report
