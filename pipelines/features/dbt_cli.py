"""Run dbt commands on the project in this process, with dbt's programmatic API (``dbtRunner``).

Every caller goes through :func:`run_dbt`: the Dagster assets, the demo, the benchmarks and the tests.
In-process because a dbt CLI process spends 2-3 s importing dbt before it does anything, and
because a window in ``--vars`` (a partition range) would invalidate dbt's partial parse: a new
window every hour meant a full re-parse every hour. Here each command is two invocations: ``dbt
parse`` with the vars that stay the same from run to run (partial parsing re-reads only files that
changed, well under a second), then the command itself on that manifest with every var, the window
included. dbt reads the window only while running (:data:`RUNTIME_VARS`), so skipping the re-parse
is exact.

dbt's log lines go to ``KIMERA_HOME/dbt/logs/dbt.log`` (info level: every node's start, result and
errors; the SQL each node ran is in ``target/run/``), none to stdout; :class:`DbtRun` keeps the info
lines and every node's result.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kimera.settings import Settings
from pipelines.features.project import DBT_PROJECT_DIR

# Vars that dbt_project/ reads only while running (macros behind `execute`), never while parsing: a
# change of them needs no re-parse. dbt_project.yml says so beside them.
RUNTIME_VARS = frozenset({"window_start", "window_end"})
# dbt events that end a node (model, test, seed, snapshot): what Dagster turns into materialisations
# and check results.
RESULT_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})

OnResult = Callable[[dict[str, Any]], None]

# dbt keeps global state (flags, adapters, the event manager): one invocation at a time per process.
_LOCK = threading.Lock()


class DbtFailed(RuntimeError):
    """dbt failed; the message carries its error lines."""


@dataclass(frozen=True)
class DbtRun:
    args: list[str]
    wall_s: float
    output: str
    run_results: dict[str, Any] | None
    success: bool = True
    parse_s: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Every node's result event, as dbt's JSON log line has it (``info`` and ``data``)."""

    def statuses(self) -> dict[str, str]:
        """unique_id -> status (success, pass, fail, error, skipped) of every node dbt ran."""
        results = (self.run_results or {}).get("results", [])
        return {r["unique_id"]: r["status"] for r in results}

    @property
    def elapsed_s(self) -> float:
        """dbt's own time for the nodes (without parsing and start-up)."""
        return float((self.run_results or {}).get("elapsed_time", 0.0))


def log_dir(home: Path) -> Path:
    """Where dbt writes ``dbt.log`` for runs on ``home``'s warehouse."""
    return home / "dbt" / "logs"


def run_dbt(
    args: list[str],
    home: Path,
    dbt_vars: Mapping[str, Any] | None = None,
    target_path: Path | None = None,
    check: bool = True,
    on_result: OnResult | None = None,
    settings: Settings | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
) -> DbtRun:
    """Run ``dbt <args>`` against ``home/warehouse.duckdb``; artefacts go to ``target_path`` (default
    ``home/dbt/target``, where the Dagster assets keep theirs, with partial parsing state).

    ``settings`` (default: this environment's, at ``home``) give dbt its environment, e.g. the
    lake's endpoint for the ``lake`` target. ``on_result`` gets each node's result event as it
    finishes; ``project_dir`` is another copy of the dbt project (tests that change a definition).
    Raises :class:`DbtFailed` naming the errors when dbt fails (unless ``check`` is false), and
    ``KeyboardInterrupt`` when interrupted:
    dbt then cancels its running queries, and each model's transaction is rolled back.
    """
    from dbt.cli.main import dbtRunner

    target = target_path or home / "dbt" / "target"
    dbt_vars = dict(dbt_vars or {})
    stable = {k: v for k, v in dbt_vars.items() if k not in RUNTIME_VARS}
    common = [
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target),
        "--log-path",
        str(log_dir(home)),
        "--log-level",
        "none",
        # dbt.log keeps each node's start, result and errors; the SQL it ran is in target/run/.
        "--log-level-file",
        "info",
        "--no-use-colors",
    ]
    collector = _Collector(on_result)
    # Writing manifest.json takes dbt a few tenths of a second, twice per command: for the commands
    # that run nodes it is written only when the parse changed it (run_results.json always).
    building = args[:1] in (["build"], ["run"], ["test"])
    results_path = target / "run_results.json"
    environment = (settings or Settings(home=home)).tool_environment()
    with _LOCK, _environment(environment), _interrupts_reach_dbt():
        results_path.unlink(missing_ok=True)
        started = time.perf_counter()
        try:
            quiet = ["--no-write-json"] if building else []
            parse = ["parse", *common, "--vars", json.dumps(stable), *quiet]
            parsed = dbtRunner(callbacks=[collector]).invoke(parse)
            parse_s = time.perf_counter() - started
            outcome = parsed
            if parsed.success and (args[:1] != ["parse"] or stable != dbt_vars):
                quiet = quiet if _manifest_current(target) else []
                command = [*args, *common, "--vars", json.dumps(dbt_vars), *quiet]
                outcome = dbtRunner(manifest=parsed.result, callbacks=[collector]).invoke(command)
                if quiet and hasattr(outcome.result, "write"):
                    outcome.result.write(str(results_path))
        finally:
            _release_warehouse()
        wall = time.perf_counter() - started
    error = outcome.exception
    if isinstance(error, BaseException) and not isinstance(error, Exception):
        raise error  # Ctrl-C (or the run's interruption): dbt stopped, and so do we
    results = json.loads(results_path.read_text()) if results_path.exists() else None
    run = DbtRun(
        args=list(args),
        wall_s=wall,
        output="\n".join(collector.lines),
        run_results=results,
        success=outcome.success,
        parse_s=parse_s,
        results=collector.results,
    )
    if check and not run.success:
        errors = collector.errors or [line for line in collector.lines if "error" in line.lower()]
        if error is not None:
            errors.append(f"{type(error).__name__}: {error}")
        raise DbtFailed(f"dbt {' '.join(args)} failed:\n" + "\n".join(errors[-30:]))
    return run


class _Collector:
    """A dbt event callback: keeps info lines, error lines and node results (dbt calls it from its
    worker threads, for every event of every level; it must be cheap)."""

    def __init__(self, on_result: OnResult | None) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.results: list[dict[str, Any]] = []
        self._on_result = on_result
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        info = event.info
        if info.level == "debug":
            return
        with self._lock:
            self.lines.append(info.msg)
            if info.level == "error":
                self.errors.append(info.msg)
            if info.name not in RESULT_EVENTS:
                return
            from dbt_common.events.functions import msg_to_dict

            result = msg_to_dict(event)
            self.results.append(result)
        if self._on_result is not None:
            self._on_result(result)


def _manifest_current(target: Path) -> bool:
    """Whether ``target/manifest.json`` is newer than dbt's partial-parse state (which dbt rewrites
    only when a project file changed)."""
    written, state = target / "manifest.json", target / "partial_parse.msgpack"
    return written.exists() and state.exists() and written.stat().st_mtime >= state.stat().st_mtime


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb opened. It keeps it open for the life of the process
    (``keep_open``, so that nodes share one open database), which would hold the warehouse's lock
    after the command, against ``kimera sql`` and every other process."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV  # the only handle on that database
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` as this process's environment while dbt runs (dbt reads the profile's ``KIMERA_HOME``
    and its flags from it); the previous values come back afterwards."""
    changed = {k: os.environ.get(k) for k, v in env.items() if os.environ.get(k) != v}
    os.environ.update({k: env[k] for k in changed})
    try:
        yield
    finally:
        for key, value in changed.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _interrupts_reach_dbt() -> Iterator[None]:
    """Ctrl-C as a KeyboardInterrupt while dbt runs, which dbt handles by cancelling its queries.

    Dagster raises its own interruption error from SIGINT inside a step, which dbt does not know;
    off the main thread signals never arrive here, and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
