"""Servers the demo starts (the execution service and its paper venues), and their clean stop.

Each runs in its own session (process group), so Ctrl-C at the terminal reaches the demo alone and
the demo stops them in order: SIGTERM to the whole group (a server and the children it started),
a grace period, then SIGKILL. Their output goes to ``KIMERA_HOME/logs/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ServiceFailed(RuntimeError):
    """A server did not come up; the message names it, the reason and its log."""


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen | None  # None: one already running that we did not start
    log: Path | None = None


@dataclass
class Services:
    """The servers started for one demo run; :meth:`stop_all` is safe to call more than once."""

    started: list[Service] = field(default_factory=list)

    def start(
        self, name: str, cmd: list[str], ready_url: str, env: dict[str, str], log: Path, timeout_s: float = 90
    ) -> Service:
        """Start ``cmd`` and wait until ``ready_url`` answers 200; reuse a server that already answers."""
        base = ready_url.rsplit("/", 1)[0]
        if _answers(ready_url):
            service = Service(name, base, None)
            self.started.append(service)
            return service
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        service = Service(name, base, process, log)
        self.started.append(service)
        deadline = time.monotonic() + timeout_s
        while not _answers(ready_url):
            if process.poll() is not None:
                raise ServiceFailed(
                    f"{name} exited with code {process.returncode} before answering; see {log}"
                )
            if time.monotonic() > deadline:
                raise ServiceFailed(f"{name} did not answer {ready_url} within {timeout_s:.0f} s; see {log}")
            time.sleep(0.25)
        return service

    def stop_all(self, grace_s: float = 15.0) -> list[str]:
        """Stop every server this run started, newest first; returns their names."""
        stopped = []
        while self.started:
            service = self.started.pop()
            if service.process is None or service.process.poll() is not None:
                continue
            stop_group(service.process, grace_s)
            stopped.append(service.name)
        return stopped


def stop_group(process: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM the process's group, wait up to ``grace_s``, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # children that outlived their parent (e.g. the paper venue server) leave with the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
