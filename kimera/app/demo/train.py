"""The demo's train stage: every ML asset for the newest whole day of the demo window.

Registered in ``kimera/app/demo/run.py`` after the features stage (the marts must exist). The run goes
through the code location onto the instance under ``KIMERA_HOME/dagster``, so it shows in the UI.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kimera.app.demo.context import DemoContext, DemoFailed

PAPER_DAYS = 1  # the newest day of the demo is kept from training: the served model paper-trades it


def training_partition(end: datetime) -> str:
    """The daily partition whose training ends :data:`PAPER_DAYS` before the last midnight at or
    before ``end``: the bars after it are new to the served model, which paper-trades them."""
    last_midnight = datetime(end.year, end.month, end.day)
    return (last_midnight - timedelta(days=1 + PAPER_DAYS)).date().isoformat()


def paper_start(end: datetime) -> datetime:
    """Where the demo's paper market starts: the end of the served model's training data."""
    return datetime.fromisoformat(training_partition(end)) + timedelta(days=1)


def train_stage(ctx: DemoContext) -> list[str]:
    """Materialise the ``ml_training`` job for the demo's last whole day; one summary line per model."""
    # the domains load Dagster and torch: imported when the stage runs, so `kimera --help` stays fast
    import duckdb

    from models.walk_forward import walk_forward
    from pipelines.ml.jobs import TRAIN_JOB
    from pipelines.runner import code_location

    partition = training_partition(ctx.end)
    needed = walk_forward(ctx.config.models).fold_bars
    with duckdb.connect(str(ctx.settings.warehouse_path), read_only=True) as con:
        column = f"fwd_ret_{ctx.config.models.horizon}"
        have = con.execute(
            f"SELECT count(DISTINCT bar_time) FROM marts.labels WHERE {column} IS NOT NULL AND bar_time < ?",
            [datetime.fromisoformat(partition) + timedelta(days=1)],
        ).fetchone()[0]
    if have < needed:
        # a short demo (e.g. --days 1) is a smoke run of the data stages: say why nothing is trained
        return [
            f"train: not run: {have} labelled bars before {partition} + 1 day, the walk-forward needs "
            f"{needed} (models.train_bars + purge + test_bars); use --days {ctx.config.models.train_bars // 24 + 15 + PAPER_DAYS} or more"
        ]
    task = ctx.progress.add_task(f"  ml_training, partition {partition}", total=None)
    job = code_location().resolve_job_def(TRAIN_JOB)
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # the event log keeps all
    result = job.execute_in_process(
        run_config=quiet, partition_key=partition, instance=ctx.instance, raise_on_error=False
    )
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        step = failed[0].step_key if failed else "the run"
        error = failed[0].event_specific_data.error.message.strip() if failed else "unknown error"
        raise DemoFailed(f"train: {step} failed (run {result.run_id}): {error}")
    ctx.progress.update(task, total=1, completed=1)
    with duckdb.connect(str(ctx.settings.warehouse_path), read_only=True) as con:
        rows = con.execute(
            """
            SELECT model, avg(accuracy), stddev_samp(accuracy), avg(sharpe), sum(n) / count(DISTINCT seed)
            FROM ml.evaluations WHERE training_end = ? AND horizon = ? GROUP BY model ORDER BY model
            """,
            [datetime.fromisoformat(partition) + timedelta(days=1), ctx.config.models.horizon],
        ).fetchall()
    lines = [
        f"train: partition {partition} (run {result.run_id[:8]}); walk-forward test scores, mean over seeds:"
    ]
    lines += [
        f"  {model:<12} accuracy {acc:.4f} ± {sd or 0:.4f}  Sharpe after fees {sharpe:+.2f}  ({int(n)} bars)"
        for model, acc, sd, sharpe, n in rows
    ]
    lines.append(f"  plots: {ctx.settings.report_dir / 'ml' / partition}")
    return lines
