"""Start a Kimera cluster on this machine: PostgreSQL, one code server, ``dagster-daemon`` and
``dagster-webserver``, each its own process, all on loopback ports; and stop them again. With the
Celery executor, also Redis (the broker) and Celery workers, each a process of its own as each
would be a machine of its own.

This is the shape of a deployment on several machines (docs/scaling-out.md): the webserver and the
daemon ask the code server for definitions, the daemon takes queued runs off PostgreSQL and has
the code server start each in a process of its own. Only the addresses would change.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from kimera.app.cluster.instance import write_instance
from kimera.app.cluster.postgres import PostgresServer, PostgresUnavailable, free_port, throwaway_postgres
from kimera.app.cluster.redis import RedisUnavailable, throwaway_redis
from kimera.settings import Settings, prepare_home

REPO_ROOT = Path(__file__).resolve().parents[3]
_LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"
_DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
EXECUTORS = ("in_process", "celery")


@dataclass(frozen=True)
class CeleryWorker:
    """One Celery worker process (its own process group: stopping it stops its pool too)."""

    name: str  # Celery's node name, e.g. worker1@host
    pid: int
    log: Path


class ClusterFailed(RuntimeError):
    """A part of the cluster did not start; the message names it and ends with its log."""


@dataclass(frozen=True)
class Cluster:
    """A running cluster: the UI's URL, the Dagster instance folder and the PostgreSQL server."""

    url: str
    dagster_home: Path
    postgres: PostgresServer
    logs: Path
    broker_url: str | None = None  # the Celery broker, when steps run on Celery workers
    workers: tuple[CeleryWorker, ...] = ()

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """Post ``query`` to the webserver's GraphQL API; returns its ``data`` (raises on errors)."""
        body = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        body.raise_for_status()
        answer = body.json()
        if answer.get("errors"):
            raise ClusterFailed(f"GraphQL error: {answer['errors']}")
        return answer["data"]


@contextmanager
def running_cluster(
    settings: Settings,
    port: int | None = None,
    max_concurrent_runs: int = 4,
    ready_timeout_s: float = 300,
    executor: str = "in_process",
    workers: int = 2,
    visibility_timeout_s: int | None = None,
) -> Iterator[Cluster]:
    """Start PostgreSQL, the code server, the daemon and the webserver for ``settings``' KIMERA_HOME.

    The instance lives in ``KIMERA_HOME/cluster/dagster`` (the single-machine instance under
    ``KIMERA_HOME/dagster`` is left alone); the warehouse is the same file. Yields once the UI
    has loaded the code location and every required daemon reports healthy; stops everything
    (runs in flight included) and deletes the throwaway database on exit.

    ``executor="celery"`` also starts a throwaway Redis and ``workers`` Celery workers, and every
    run sends its steps to them; ``visibility_timeout_s`` (default: the settings') is how long a
    step whose worker vanished waits before another worker takes it.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r}: one of {', '.join(EXECUTORS)}")
    if executor == "celery" and workers < 1:
        raise ValueError(f"workers is {workers}: the Celery executor needs at least 1 worker")
    prepare_home(settings)
    base = settings.home_dir / "cluster"
    dagster_home, logs = base / "dagster", base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        postgres = stack.enter_context(throwaway_postgres())
        # dagster-postgres is written against psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)
        database = postgres.create_database("dagster")
        code_port, web_port = free_port(), port or free_port()
        workspace = write_instance(
            dagster_home, postgres.url(database, driver="postgresql+psycopg2"), code_port, max_concurrent_runs
        )
        env = settings.tool_environment()
        env["DAGSTER_HOME"] = str(dagster_home)
        env["KIMERA_CONFIG"] = str(settings.config.expanduser().resolve())
        broker_url = None
        for name in ("KIMERA_CELERY_BROKER_URL", "KIMERA_CELERY_BACKEND_URL"):
            env.pop(name, None)  # this cluster's own broker, or none: never one from the caller's shell
        if executor == "celery":
            broker_url = stack.enter_context(throwaway_redis()).url(0)
            env["KIMERA_CELERY_BROKER_URL"] = broker_url  # results on the same throwaway server
            timeout = visibility_timeout_s or settings.celery_visibility_timeout_s
            env["KIMERA_CELERY_VISIBILITY_TIMEOUT_S"] = str(timeout)
        dagster = [sys.executable, "-m", "dagster"]
        code_server = [*dagster, "code-server", "start", "-h", "127.0.0.1", "-p", str(code_port)]
        code_server += ["-m", "pipelines.definitions", "-d", str(REPO_ROOT), "--location-name", "kimera"]
        daemon = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)]
        webserver = [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(web_port)]
        webserver += ["-w", str(workspace)]
        started: list[tuple[str, subprocess.Popen]] = []
        stack.callback(_stop_all, started)
        started.append(("code-server", _start(code_server, env, logs / "code-server.log")))
        # the webserver and the daemon remember a location they could not reach: start them after
        _wait_code_server(code_port, started[0][1], logs / "code-server.log", ready_timeout_s)
        for name, command in (("daemon", daemon), ("webserver", webserver)):
            started.append((name, _start(command, env, logs / f"{name}.log")))
        celery_workers = []
        for number in range(1, workers + 1 if executor == "celery" else 1):
            name = f"worker{number}"
            process = _start(_worker_command(name), env, logs / f"celery-{name}.log")
            started.append((f"celery-{name}", process))
            celery_workers.append(
                CeleryWorker(f"{name}@{socket.gethostname()}", process.pid, logs / f"celery-{name}.log")
            )
        cluster = Cluster(
            url=f"http://127.0.0.1:{web_port}", dagster_home=dagster_home, postgres=postgres, logs=logs,
            broker_url=broker_url, workers=tuple(celery_workers),
        )  # fmt: skip
        _wait_ready(cluster, started, ready_timeout_s)
        for worker, (_, process) in zip(celery_workers, started[3:], strict=True):
            _wait_worker(worker, process, ready_timeout_s)
        yield cluster


def _worker_command(name: str) -> list[str]:
    """A Celery worker on dagster-celery's queue, one step at a time (``%h``: Celery's host name)."""
    command = [sys.executable, "-m", "celery", "-A", "pipelines.celery_worker", "worker", "-Q", "dagster"]
    return command + ["-c", "1", "-n", f"{name}@%h", "-l", "info", "--without-gossip", "--without-mingle"]


def _wait_worker(worker: CeleryWorker, process: subprocess.Popen, timeout_s: float) -> None:
    """Wait until the worker says it is ready (its log's ``ready.`` line, after it reached the broker)."""
    deadline = time.monotonic() + timeout_s
    while " ready." not in _tail(worker.log, 100_000):
        if process.poll() is not None:
            raise ClusterFailed(
                f"Celery {worker.name} exited with {process.returncode}:\n{_tail(worker.log)}"
            )
        if time.monotonic() > deadline:
            raise ClusterFailed(
                f"Celery {worker.name} not ready after {timeout_s:.0f} s:\n{_tail(worker.log)}"
            )
        time.sleep(1)


def run_cluster_cli(
    port: int, max_concurrent_runs: int, executor: str = "in_process", workers: int = 2
) -> None:
    """``kimera cluster``: start the cluster, say where it is and how to stop it, wait for Ctrl-C."""
    from kimera.settings import get_settings

    settings = get_settings()
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    celery = f", Redis and {workers} Celery workers" if executor == "celery" else ""
    print(
        f"starting PostgreSQL, the code server, dagster-daemon and dagster-webserver{celery} ...", flush=True
    )
    try:
        with running_cluster(
            settings, port=port, max_concurrent_runs=max_concurrent_runs, executor=executor, workers=workers
        ) as cluster:
            steps = "in each run's process"
            if cluster.broker_url:
                names = ", ".join(w.name for w in cluster.workers)
                steps = f"on Celery workers {names} (broker {cluster.broker_url}, throwaway)"
            print(
                f"Dagster UI on {cluster.url}\n"
                f"  instance:   {cluster.dagster_home} (runs queued, each in its own process; "
                f"pool 'duckdb' at 1)\n"
                f"  PostgreSQL: {cluster.postgres.url('dagster')} (throwaway: deleted on stop)\n"
                f"  steps:      {steps}\n"
                f"  logs:       {cluster.logs}\n"
                "Ctrl-C (or SIGTERM) stops it all.",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped: PostgreSQL's throwaway data is deleted; the warehouse is kept.", flush=True)
    except (
        ClusterFailed,
        PostgresUnavailable,
        RedisUnavailable,
    ) as exc:  # what to install, or which part failed and its log
        raise SystemExit(f"kimera cluster did not start: {exc}") from None


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        # its own session, so stopping it also stops the run processes it started
        return subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_code_server(port: int, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Wait until the code server answers Dagster's own health check (its public CLI)."""
    check = [sys.executable, "-m", "dagster", "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)]
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise ClusterFailed(f"code-server exited with {process.returncode}:\n{_tail(log)}")
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return
        if time.monotonic() > deadline:
            raise ClusterFailed(f"code-server not ready after {timeout_s:.0f} s:\n{_tail(log)}")
        time.sleep(1)


def _wait_ready(cluster: Cluster, started: list[tuple[str, subprocess.Popen]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        for name, process in started:
            if process.poll() is not None:
                raise ClusterFailed(
                    f"{name} exited with {process.returncode}:\n{_tail(cluster.logs / f'{name}.log')}"
                )
        try:
            entries = cluster.graphql(_LOCATIONS)["workspaceOrError"]["locationEntries"]
            loaded = entries and all(e["loadStatus"] == "LOADED" for e in entries)
            if loaded:
                errors = [
                    e["locationOrLoadError"]
                    for e in entries
                    if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"
                ]
                if errors:
                    raise ClusterFailed(f"the code location failed to load: {errors}")
                daemons = cluster.graphql(_DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
                if all(d["healthy"] for d in daemons if d["required"]):
                    return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise ClusterFailed(f"not ready after {timeout_s:.0f} s; logs in {cluster.logs}")
        time.sleep(1)


def _stop_all(started: list[tuple[str, subprocess.Popen]]) -> None:
    """SIGTERM every process group (webserver first), then SIGKILL what lingers."""
    for _, process in reversed(started):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for _, process in reversed(started):
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # and any run process left in its group
        process.wait()


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text()[-chars:] if path.exists() else "(no log)"
