"""The demo's train stage: every ML asset for the newest whole day of the demo window.

Registered in ``kimera/app/demo/run.py`` after the features stage (the marts must exist). The run goes
through the code location onto the instance under ``KIMERA_HOME/dagster``, so it shows in the UI.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kimera.app.demo.context import DemoContext

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
    return train_partition(ctx, training_partition(ctx.end), days_hint=PAPER_DAYS)


def train_partition(ctx: DemoContext, partition: str, days_hint: int = 0) -> list[str]:
    """Materialise ``ml_training`` for ``partition`` (``kimera train``); one summary line per model.

    With too few labelled bars it trains nothing and says how many the walk-forward needs.
    """
    # the domains load Dagster and torch: imported when the stage runs, so `kimera --help` stays fast
    import duckdb

    from kimera.app.lake_steps import marts_reader, ml_database
    from models.walk_forward import walk_forward
    from pipelines.ml.jobs import TRAIN_JOB

    needed = walk_forward(ctx.config.models).fold_bars
    with marts_reader(ctx.settings) as con:  # on the lake (KIMERA_LAKE_URL): its mart files
        column = f"fwd_ret_{ctx.config.models.horizon}"
        have = con.execute(
            f"SELECT count(DISTINCT bar_time) FROM marts.labels WHERE {column} IS NOT NULL AND bar_time < ?",
            [datetime.fromisoformat(partition) + timedelta(days=1)],
        ).fetchone()[0]
    if have < needed:
        # a short demo (e.g. --days 1) is a smoke run of the data stages: say why nothing is trained
        return [
            f"train: not run: {have} labelled bars before {partition} + 1 day, the walk-forward needs "
            f"{needed} (models.train_bars + purge + test_bars)"
            + (
                f"; use --days {ctx.config.models.train_bars // 24 + 15 + days_hint} or more"
                if days_hint
                else "; bring more data or lower models.train_bars and models.test_bars"
            )
        ]
    result = ctx.run_job(
        TRAIN_JOB, f"train, evaluate and register the models, partition {partition}", partition=partition
    )
    with duckdb.connect(str(ml_database(ctx.settings)), read_only=True) as con:
        rows = con.execute(
            """
            SELECT model, avg(accuracy), stddev_samp(accuracy), avg(sharpe), sum(n) / count(DISTINCT seed)
            FROM ml.evaluations WHERE training_end = ? AND horizon = ? GROUP BY model ORDER BY model
            """,
            [datetime.fromisoformat(partition) + timedelta(days=1), ctx.config.models.horizon],
        ).fetchall()
        oracle = _oracle_scores(
            con, datetime.fromisoformat(partition) + timedelta(days=1), ctx.config.models.horizon
        )
    lines = [
        f"train: partition {partition} (run {result.run_id[:8]}); walk-forward test scores, mean over seeds:"
    ]
    left_out = _features_left_out(ctx, partition)
    if left_out:
        lines.append(f"  {left_out}")
    lines += [
        f"  {model:<12} accuracy {acc:.4f} ± {sd or 0:.4f}  Sharpe after fees {sharpe:+.2f}  ({int(n)} bars)"
        + (_oracle_phrase(oracle[model]) if model in oracle else "")
        for model, acc, sd, sharpe, n in rows
    ]
    if oracle:
        lines.append(
            "  Bayes A*: the simulator's Bayes-optimal accuracy on the same test bars; recovery: the model's "
            "edge over a coin as a share of the oracle's realised one (± SE); calls: the same with each call "
            "scored by the oracle's probability of being right (no label noise)"
        )
    lines.append(f"  plots: {ctx.settings.report_dir / 'ml' / partition}")
    return lines


def _oracle_scores(con, training_end: datetime, horizon: int) -> dict[str, tuple[float, ...]]:
    """model -> (Bayes A*, oracle hit rate, recovery, its SE, expected recovery) from
    ``ml.oracle_scores``; empty when the data had no oracle (not the simulator's)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ml' AND table_name = 'oracle_scores'"
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        "SELECT model, bayes_accuracy, oracle_hit, recovery, recovery_se, expected_recovery FROM ml.oracle_scores "
        "WHERE training_end = ? AND horizon = ?",
        [training_end, horizon],
    ).fetchall()
    return {model: tuple(values) for model, *values in rows}


def _oracle_phrase(scores: tuple[float | None, ...]) -> str:
    """NULL scores print as n/a: recovery is undefined when the oracle's realised edge is not
    positive (its hit rate at or below a coin's), and data that is not the simulator's has no oracle."""
    bayes, oracle_hit, recovery, se, expected = (
        _or_na(v, spec) for v, spec in zip(scores, (".4f", ".4f", ".2f", ".2f", ".2f"), strict=True)
    )
    return f"  Bayes A* {bayes} (oracle hit {oracle_hit})  recovery {recovery} ± {se} (calls {expected})"


def _or_na(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _features_left_out(ctx: DemoContext, partition: str) -> str:
    """The ``ml/dataset`` run's note of feature columns left out (absent sources), if any."""
    from dagster import AssetKey

    from models.columns import describe_dropped

    event = ctx.instance.get_latest_materialization_event(AssetKey(["ml", "dataset"]))
    if event is None or event.asset_materialization is None:
        return ""
    if event.asset_materialization.partition != partition:
        return ""
    left_out = event.asset_materialization.metadata.get("features_left_out")
    return describe_dropped(left_out.value) if left_out is not None else ""
