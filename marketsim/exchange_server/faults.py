"""Scripted faults for the test exchange: the next N matching requests fail, stall or are refused."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    """What the next ``times`` requests whose path contains ``path`` get instead of an answer."""

    kind: str  # "status" | "stall"
    times: int
    path: str = ""
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    body: str = ""

    def text(self) -> tuple[str, str]:
        """Body and content type: what a load balancer or the exchange sends with this status."""
        if self.body:
            return self.body, "application/json"
        if self.status >= 500:
            return f"<html><body><h1>{self.status} Service Unavailable</h1></body></html>", "text/html"
        if self.status in (418, 429):
            return (
                '{"code":-1003,"msg":"Too much request weight used; please use the websocket."}',
                "application/json",
            )
        return (
            '{"code":-1000,"msg":"An unknown error occurred while processing the request."}',
            "application/json",
        )


@dataclass
class Faults:
    """A queue of faults, consumed in order by matching requests; ``down`` fails everything."""

    queue: list[Fault] = field(default_factory=list)
    down: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        times: int = 1,
        status: int = 503,
        retry_after: str | None = None,
        path: str = "",
        body: str = "",
    ) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` (and ``Retry-After`` if given)."""
        with self._lock:
            self.queue.append(Fault("status", times, path, status, retry_after, body=body))

    def stall(self, times: int = 1, seconds: float = 30.0, path: str = "") -> None:
        """Hold the next ``times`` requests for ``seconds`` before answering (a client times out)."""
        with self._lock:
            self.queue.append(Fault("stall", times, path, seconds=seconds))

    def clear(self) -> None:
        with self._lock:
            self.queue.clear()
            self.down = False

    def take(self, path: str) -> Fault | None:
        """The fault this request gets, if any (consuming one use of it)."""
        with self._lock:
            if self.down:
                return Fault("status", 1, status=503)
            for fault in self.queue:
                if fault.path in path and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.queue.remove(fault)
                    return fault
        return None
