"""Run a job of the code location in this process, on the persistent Dagster instance.

``kimera demo`` (and any other command) materialises assets through here, so the runs, their logs
and the partitions they filled show in ``dagster dev``'s UI afterwards, exactly as if launched
there. Events are streamed to a callback as they happen (for progress bars).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from dagster import DagsterEventType, DagsterInstance, Definitions, RunsFilter
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._core.utils import make_new_run_id
from dagster._utils.interrupts import check_captured_interrupt

from pipelines.ingest.partitions import partition_keys_between

OnEvent = Callable[[EventLogEntry], None]
# Who runs a run started here, so a run whose process is gone can be told from a live one.
PID_TAG = "kimera/pid"
HOST_TAG = "kimera/host"


@dataclass
class RunOutcome:
    """How a run ended: its id, whether it succeeded, what it materialised, and the first error."""

    run_id: str
    job: str
    success: bool
    materialisations: int = 0
    failed_steps: list[str] = field(default_factory=list)
    error: str | None = None
    interrupted: bool = False


def code_location() -> Definitions:
    """The code location's definitions for this process's settings, as ``dagster dev`` loads them."""
    from pipelines.definitions import build_location

    return build_location()


def run_job(
    job_name: str,
    instance: DagsterInstance,
    window: tuple[datetime, datetime] | None = None,
    on_event: OnEvent | None = None,
    defs: Definitions | None = None,
    console_log_level: str = "WARNING",
    partition: str | None = None,
) -> RunOutcome:
    """Run ``job_name`` in-process on ``instance``; a partitioned job over ``window`` as one run.

    ``window`` is a half-open ``[start, end)`` of whole hours (naive UTC); it becomes the run's
    partition range, so a partitioned asset with a single-run backfill policy is executed once for
    all of it. Returns the outcome rather than raising when a step fails; ``interrupted`` tells
    that Ctrl-C (SIGINT or SIGTERM) arrived during the run, even between steps, where Dagster
    holds it back. ``console_log_level`` quiets Dagster's console logger (the event log keeps all).
    ``partition`` runs one partition by key instead (a daily training partition).
    """
    defs = defs or code_location()
    job = defs.resolve_job_def(job_name)
    tags: dict[str, str] = {}
    if window is not None:
        first, last = partition_keys_between(*window)
        tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    run_id = make_new_run_id()
    outcome = RunOutcome(run_id=run_id, job=job_name, success=False)

    def record(entry: EventLogEntry) -> None:
        event = entry.dagster_event
        if event is not None:
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                outcome.materialisations += 1
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                outcome.failed_steps.append(event.step_key or "?")
                if outcome.error is None and event.step_failure_data is not None:
                    outcome.error = _failure_text(event.step_failure_data)
        if on_event is not None:
            on_event(entry)
        # Ctrl-C inside a step fails it (and a retry policy would even retry it); between steps
        # Dagster holds it back. Either way, stop the run here: the step's transaction is undone.
        if check_captured_interrupt() or (event is not None and _interrupted(event)):
            outcome.interrupted = True
            raise _Interrupted

    instance.add_event_listener(run_id, record)
    run_config = {"loggers": {"console": {"config": {"log_level": console_log_level}}}}
    release_abandoned(instance)
    tags = {**tags, PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    try:
        with _noting_interrupts(outcome), _signals_seen() as seen:
            try:
                result = job.execute_in_process(
                    run_config=run_config,
                    instance=instance,
                    run_id=run_id,
                    tags=tags,
                    raise_on_error=False,
                    partition_key=partition,
                )
            except KeyboardInterrupt:
                outcome.interrupted = True
                return outcome
            finally:
                # Dagster's own Ctrl-C capture forgets a signal in some windows of a run (its flag is
                # reset when its capture ends): the signal seen at C level says it arrived all the same.
                if seen() & {signal.SIGINT, signal.SIGTERM}:
                    outcome.interrupted = True
    finally:
        # An interrupted in-process run can leave its pool slot claimed, which would block the
        # next run on the "duckdb" pool for ever: a run that is over holds nothing.
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    outcome.success = result.success
    return outcome


def release_abandoned(instance: DagsterInstance) -> list[str]:
    """Fail runs started here by a process that is gone, and free pool slots held by finished runs.

    A ``kimera demo`` killed outright leaves its run "started" and its ``duckdb`` slot claimed;
    without this every later run would wait for that slot. Returns the run ids released.
    """
    released: list[str] = []
    here = socket.gethostname()
    for run in instance.get_runs(RunsFilter(statuses=NOT_FINISHED_STATUSES, tags={HOST_TAG: here})):
        pid = run.tags.get(PID_TAG)
        if pid is not None and not _alive(int(pid)):
            instance.report_run_failed(run, "the process running it (kimera) ended without finishing it")
            released.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for pool in storage.get_concurrency_keys():
            for slot in storage.get_concurrency_info(pool).claimed_slots:
                run = instance.get_run_by_id(slot.run_id)
                if run is None or run.is_finished:
                    storage.free_concurrency_slots_for_run(slot.run_id)
                    released.append(slot.run_id)
    return released


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _noting_interrupts(outcome: RunOutcome) -> Iterator[None]:
    """Note a Ctrl-C that lands outside Dagster's own handling (while it sets the run up)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum, frame) -> None:
        outcome.interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _signals_seen() -> Iterator[Callable[[], set[int]]]:
    """The signals delivered to this process while inside, whichever Python handler was installed.

    Python writes each handled signal's number to the wake-up file descriptor before any handler
    runs, so a Ctrl-C that a library's handler swallowed still shows here. Outside the main thread
    (where no handler runs) nothing is recorded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield set
        return
    read_end, write_end = socket.socketpair()
    read_end.setblocking(False)
    write_end.setblocking(False)
    seen: set[int] = set()

    def drain() -> set[int]:
        try:
            while chunk := read_end.recv(4096):
                seen.update(chunk)
        except BlockingIOError:
            pass
        return seen

    previous = signal.set_wakeup_fd(write_end.fileno(), warn_on_full_buffer=False)
    try:
        yield drain
    finally:
        signal.set_wakeup_fd(previous)
        drain()
        read_end.close()
        write_end.close()


class _Interrupted(KeyboardInterrupt):
    """Raised from the event listener to unwind a run the user interrupted."""


def _interrupted(event) -> bool:
    """Whether a step failed or asked for a retry because the run was interrupted."""
    data = event.event_specific_data
    error = getattr(data, "error", None)
    while error is not None:
        if error.cls_name in {"DagsterExecutionInterruptedError", "KeyboardInterrupt"}:
            return True
        # Ctrl-C during a DuckDB query: DuckDB swallows the exception Dagster's SIGINT handler
        # raises and raises its own RuntimeError("Query interrupted") (or InterruptException).
        if (
            error.cls_name in {"RuntimeError", "InterruptException"}
            and "interrupted" in error.message.lower()
        ):
            return True
        error = error.cause
    return False


def _failure_text(failure) -> str:
    """A step failure in a line or two: a ``Failure``'s own description, else the error and its cause."""
    if failure.user_failure_data is not None and failure.user_failure_data.description:
        return failure.user_failure_data.description
    error = failure.error
    if error is None:
        return "unknown error"
    text = error.message.strip()
    while error.cause is not None and error.cls_name in {
        "RetryRequestedFromPolicy",
        "DagsterExecutionStepExecutionError",
    }:
        error = error.cause
        text = error.message.strip()
    return text
