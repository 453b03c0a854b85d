"""An Ethereum JSON-RPC endpoint over HTTP on 127.0.0.1, backed by an in-process eth-tester chain.

Kimera's RPC adapters reach it through web3's ``HTTPProvider`` exactly as they reach a mainnet
node. Answers are encoded the way nodes encode them (hex quantities, camelCase keys), batches are
supported, and faults can be scripted like a real provider's limits:

* ``max_log_range`` / ``max_logs``: eth_getLogs over a larger range, or returning more logs,
  fails with the node's "exceed maximum block range" / "query returned more than N results";
* ``fail(times, status, retry_after)``, ``stall(times, seconds)``, ``down``: HTTP errors, slow
  answers, an unreachable node.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from web3 import Web3


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def encode(value: Any) -> Any:
    """A web3/eth-tester result as a node would send it: hex quantities and data, camelCase keys."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {_camel(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} for JSON-RPC")


@dataclass
class _HttpFault:
    times: int
    status: int = 0
    retry_after: str | None = None
    stall_s: float = 0.0


@dataclass
class RpcFaults:
    max_log_range: int | None = None  # blocks per eth_getLogs the "provider" allows
    max_logs: int | None = None  # logs per eth_getLogs answer
    down: bool = False
    queue: list[_HttpFault] = field(default_factory=list)

    def fail(self, times: int = 1, status: int = 503, retry_after: str | None = None) -> None:
        self.queue.append(_HttpFault(times, status, retry_after))

    def stall(self, times: int = 1, seconds: float = 30.0) -> None:
        self.queue.append(_HttpFault(times, stall_s=seconds))

    def take(self) -> _HttpFault | None:
        if self.down:
            return _HttpFault(1, 503)
        for fault in self.queue:
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.queue.remove(fault)
                return fault
        return None


class JsonRpcServer:
    """``with JsonRpcServer(w3) as rpc: rpc.url`` serves the chain behind ``w3`` (an eth-tester Web3)."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._request = w3.provider.request_func(w3, w3.middleware_onion)
        self._lock = threading.Lock()
        self.faults = RpcFaults()
        self.calls: list[tuple[float, str, Any]] = []  # (monotonic time, method, params)
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/"

    def methods(self, name: str) -> list[Any]:
        return [params for _, method, params in self.calls if method == name]

    # --- JSON-RPC --------------------------------------------------------------------------------
    def answer(self, call: dict) -> dict:
        method, params, call_id = call.get("method"), call.get("params", []), call.get("id")
        self.calls.append((time.monotonic(), method, params))
        if method == "eth_getLogs":
            refused = self._log_limits(params[0])
            if refused:
                return {"jsonrpc": "2.0", "id": call_id, "error": refused}
        with self._lock:
            try:
                response = self._request(method, params)
            except Exception as exc:  # the node's own error, as JSON-RPC
                return {"jsonrpc": "2.0", "id": call_id, "error": {"code": -32000, "message": str(exc)}}
        if "error" in response:
            return {"jsonrpc": "2.0", "id": call_id, "error": response["error"]}
        return {"jsonrpc": "2.0", "id": call_id, "result": encode(response.get("result"))}

    def _log_limits(self, query: dict) -> dict | None:
        with self._lock:
            latest = self.w3.eth.block_number

        def number(tag: Any) -> int:
            return latest if tag in (None, "latest", "safe", "finalized", "pending") else int(tag, 16)

        first, last = number(query.get("fromBlock", "0x0")), number(query.get("toBlock"))
        if self.faults.max_log_range is not None and last - first + 1 > self.faults.max_log_range:
            return {"code": -32600, "message": f"exceed maximum block range: {self.faults.max_log_range}"}
        if self.faults.max_logs is not None:
            with self._lock:
                found = self._request("eth_getLogs", [query]).get("result") or []
            if len(found) > self.faults.max_logs:
                return {"code": -32005, "message": f"query returned more than {self.faults.max_logs} results"}
        return None

    # --- HTTP ------------------------------------------------------------------------------------
    def start(self) -> JsonRpcServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fault = server.faults.take()
                if fault is not None and fault.stall_s:
                    time.sleep(fault.stall_s)
                elif fault is not None:
                    self.send_response(fault.status)
                    if fault.retry_after:
                        self.send_header("Retry-After", fault.retry_after)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"Service Unavailable")
                    return
                request = json.loads(body)
                if isinstance(request, list):
                    payload = [server.answer(call) for call in request]
                else:
                    payload = server.answer(request)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a stall longer than its timeout)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="test-rpc", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> JsonRpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
