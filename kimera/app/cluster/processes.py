"""Start a Kimera cluster on this machine: PostgreSQL, one code server, ``dagster-daemon`` and
``dagster-webserver``, each its own process, all on loopback ports; and stop them again.

This is the shape of a deployment on several machines (docs/scaling-out.md): the webserver and the
daemon ask the code server for definitions, the daemon takes queued runs off PostgreSQL and has
the code server start each in a process of its own. Only the addresses would change.
"""

from __future__ import annotations

import os
import signal
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
from kimera.settings import Settings, prepare_home

REPO_ROOT = Path(__file__).resolve().parents[3]
_LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"
_DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"


class ClusterFailed(RuntimeError):
    """A part of the cluster did not start; the message names it and ends with its log."""


@dataclass(frozen=True)
class Cluster:
    """A running cluster: the UI's URL, the Dagster instance folder and the PostgreSQL server."""

    url: str
    dagster_home: Path
    postgres: PostgresServer
    logs: Path

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
    settings: Settings, port: int | None = None, max_concurrent_runs: int = 4, ready_timeout_s: float = 300
) -> Iterator[Cluster]:
    """Start PostgreSQL, the code server, the daemon and the webserver for ``settings``' KIMERA_HOME.

    The instance lives in ``KIMERA_HOME/cluster/dagster`` (the single-machine instance under
    ``KIMERA_HOME/dagster`` is left alone); the warehouse is the same file. Yields once the UI
    has loaded the code location and every required daemon reports healthy; stops everything
    (runs in flight included) and deletes the throwaway database on exit.
    """
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
        cluster = Cluster(
            url=f"http://127.0.0.1:{web_port}", dagster_home=dagster_home, postgres=postgres, logs=logs
        )
        _wait_ready(cluster, started, ready_timeout_s)
        yield cluster


def run_cluster_cli(port: int, max_concurrent_runs: int) -> None:
    """``kimera cluster``: start the cluster, say where it is and how to stop it, wait for Ctrl-C."""
    from kimera.settings import get_settings

    settings = get_settings()
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    print("starting PostgreSQL, the code server, dagster-daemon and dagster-webserver ...", flush=True)
    try:
        with running_cluster(settings, port=port, max_concurrent_runs=max_concurrent_runs) as cluster:
            print(
                f"Dagster UI on {cluster.url}\n"
                f"  instance:   {cluster.dagster_home} (runs queued, each in its own process; "
                f"pool 'duckdb' at 1)\n"
                f"  PostgreSQL: {cluster.postgres.url('dagster')} (throwaway: deleted on stop)\n"
                f"  logs:       {cluster.logs}\n"
                "Ctrl-C (or SIGTERM) stops it all.",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped: PostgreSQL's throwaway data is deleted; the warehouse is kept.", flush=True)
    except (ClusterFailed, PostgresUnavailable) as exc:  # what to install, or which part failed and its log
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
