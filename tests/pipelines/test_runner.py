"""run_job: Ctrl-C stops a run, also when it lands inside a DuckDB query of a step with a retry policy."""

import os
import signal
import threading

import dagster as dg
import duckdb

from pipelines.runner import run_job


def test_ctrl_c_during_a_duckdb_query_stops_the_run_instead_of_retrying_the_step(tmp_path) -> None:
    """DuckDB turns the interrupt into RuntimeError("Query interrupted"); that must not read as a
    transient failure for the retry policy (the demo's Ctrl-C would then be ignored)."""
    started = threading.Event()
    attempts: list[int] = []

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=3))
    def slow_query(context: dg.AssetExecutionContext) -> None:
        attempts.append(context.retry_number)
        con = duckdb.connect()
        started.set()
        con.execute("SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3").fetchall()

    defs = dg.Definitions(assets=[slow_query], jobs=[dg.define_asset_job("slow", selection=[slow_query])])

    def interrupt() -> None:
        if started.wait(60):
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        outcome = run_job("slow", instance, defs=defs, console_log_level="CRITICAL")
        assert outcome.interrupted and not outcome.success
        assert attempts == [0]  # never retried
        run = instance.get_run_by_id(outcome.run_id)
        assert run is not None and run.is_finished


def test_duckdbs_own_interrupt_error_reads_as_an_interrupt_and_other_runtime_errors_do_not() -> None:
    """Where DuckDB swallows the handler's exception, only its RuntimeError("Query interrupted") is left."""
    from types import SimpleNamespace

    from dagster._utils.error import SerializableErrorInfo

    from pipelines.runner import _interrupted

    def retry_event(cls_name: str, message: str):
        cause = SerializableErrorInfo(message=message, stack=[], cls_name=cls_name)
        error = SerializableErrorInfo(
            message="RetryRequested", stack=[], cls_name="RetryRequested", cause=cause
        )
        return SimpleNamespace(event_specific_data=SimpleNamespace(error=error))

    assert _interrupted(retry_event("RuntimeError", "Query interrupted"))
    assert _interrupted(retry_event("InterruptException", "INTERRUPT Error: Interrupted!"))
    assert not _interrupted(retry_event("RuntimeError", "IO Error: Could not set lock on file"))


def test_a_ctrl_c_that_a_handler_inside_the_run_swallowed_still_stops_the_command(tmp_path) -> None:
    """Dagster captures Ctrl-C in a flag that it resets when its capture ends, so a signal landing in
    such a window used to vanish and the demo ran on to the end. The step below lands one in exactly
    that kind of window: the run completes, and run_job must still say it was interrupted."""
    from dagster._utils.interrupts import capture_interrupts

    @dg.asset
    def swallowed() -> None:
        with capture_interrupts():
            os.kill(os.getpid(), signal.SIGINT)

    defs = dg.Definitions(assets=[swallowed], jobs=[dg.define_asset_job("quiet", selection=[swallowed])])
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        outcome = run_job("quiet", instance, defs=defs, console_log_level="CRITICAL")
    assert outcome.interrupted
    # ...and the process's signal set-up is as it was: a later Ctrl-C is a plain KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.set_wakeup_fd(-1) == -1
