"""The ML assets materialised for one training partition on a real DuckDB warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster_duckdb import DuckDBResource

from models.registry import list_models, load_model
from models.synthetic import make_world

REPO_CONFIG = Path(__file__).resolve().parents[3] / "kimera.yaml"
SMALL_MODELS = {
    "seq_len": 12,
    "train_bars": 500,
    "val_bars": 120,
    "test_bars": 150,
    "max_windows": 2,
    "seeds": [0, 1],
    "max_epochs": 6,
    "patience": 3,
    "lstm": {"hidden": 16},
    "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff": 32},
    "lightgbm": {"n_estimators": 100},
    "hpo": {"trials": 2, "folds": 1},
}


@pytest.fixture
def ml_home(kimera_home, tmp_path, monkeypatch):
    """KIMERA_HOME with a small models config and a warehouse holding simulated marts."""
    config = yaml.safe_load(REPO_CONFIG.read_text())
    config["models"] = SMALL_MODELS
    path = tmp_path / "kimera.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KIMERA_CONFIG", str(path))
    from kimera.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    world = make_world(bars=1000, strength=0.4, seed=3)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.register("f", world.features)
        con.register("l", world.labels)
        con.execute("CREATE TABLE marts.features AS SELECT * FROM f")
        con.execute("CREATE TABLE marts.labels AS SELECT * FROM l")
    return settings


def _materialize(settings, partition: str):
    from pipelines.ml.assets import ML_ASSETS

    return dg.materialize(
        ML_ASSETS,
        partition_key=partition,
        resources={"warehouse": DuckDBResource(database=str(settings.warehouse_path))},
        raise_on_error=False,
    )


@pytest.mark.slow
def test_a_partition_trains_evaluates_and_registers_every_model(ml_home) -> None:
    result = _materialize(ml_home, "2026-02-10")
    assert result.success
    meta = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["ml/dataset"]["training_end"].value == "2026-02-11T00:00:00"
    summary = meta["ml/evaluations"]["summary"].value
    for model in ("always_up", "persistence", "linear", "lightgbm", "lstm", "transformer", "ensemble"):
        assert f"| {model} |" in summary
    assert "data:image/png;base64," in meta["ml/evaluations"]["plots"].value
    for name in ("equity", "predicted_vs_realised", "calibration"):
        assert (ml_home.report_dir / "ml" / "2026-02-10" / f"{name}.png").stat().st_size > 5000
    assert meta["ml/lstm_search"]["trials"].value == 2

    with duckdb.connect(str(ml_home.warehouse_path), read_only=True) as con:
        rows = con.execute(
            "SELECT model, count(*), count(DISTINCT seed), max(test_end) FROM ml.evaluations GROUP BY model"
        ).fetchall()
        last_bar = con.execute("SELECT max(bar_time) FROM ml.walk_forward_predictions").fetchone()[0]
    assert {r[0] for r in rows} == {
        "always_up",
        "persistence",
        "linear",
        "lightgbm",
        "lstm",
        "transformer",
        "ensemble",
    }
    assert all(r[1] == 4 and r[2] == 2 for r in rows)  # 2 windows x 2 seeds each
    assert last_bar < ml_home_end()  # nothing at or after the training end was scored
    # the config's sources are the simulator's, so each model is set against its Bayes oracle (these marts
    # are a synthetic world, so only the plumbing is checked here; tests/models check the figures)
    with duckdb.connect(str(ml_home.warehouse_path), read_only=True) as con:
        oracle = con.execute(
            "SELECT model, bars, bayes_accuracy, oracle_hit, recovery, signal_strength FROM ml.oracle_scores"
        ).fetchall()
    assert {r[0] for r in oracle} == {r[0] for r in rows}
    assert all(r[1] == 600 and 0.5 < r[2] < 1 and 0 < r[3] < 1 for r in oracle)
    assert {r[5] for r in oracle} == {yaml.safe_load(REPO_CONFIG.read_text())["sim"]["signal_strength"]}
    assert "Bayes A*" in summary

    stored = list_models("kimera-ensemble")
    assert len(stored) == 1 and stored[0].labels["partition"] == "2026-02-10"
    assert stored[0].metadata["data_window"]["end"] <= "2026-02-11T00:00:00"
    assert set(load_model(stored[0].tag).members) == {"lstm", "transformer", "linear", "lightgbm"}

    again = _materialize(ml_home, "2026-02-10")  # a re-run replaces its rows, never duplicates them
    assert again.success
    with duckdb.connect(str(ml_home.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ml.evaluations").fetchone()[0] == 28
        assert con.execute("SELECT count(DISTINCT run_id) FROM ml.evaluations").fetchone()[0] == 1


def ml_home_end():
    from datetime import datetime

    return datetime(2026, 2, 11)


def test_too_early_a_partition_fails_saying_how_much_data_is_needed(ml_home) -> None:
    from pipelines.ml.assets import dataset

    result = dg.materialize(
        [dataset],
        partition_key="2026-01-20",
        resources={"warehouse": DuckDBResource(database=str(ml_home.warehouse_path))},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.event_specific_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    assert any(
        "walk-forward needs at least 652 bars (train 500 + gap 2 + test 150), found 443" in m
        for m in messages
    ), messages


def test_the_training_job_holds_every_ml_asset_and_names_the_marts() -> None:
    from dagster_duckdb import DuckDBResource as Resource

    from pipelines.ml.definitions import defs

    merged = dg.Definitions.merge(
        defs, dg.Definitions(resources={"warehouse": Resource(database=":memory:")})
    )
    job = merged.resolve_job_def("ml_training")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert keys == {
        "ml/dataset", "ml/lstm_search", "ml/transformer_search", "ml/lightgbm_search", "ml/lstm",
        "ml/transformer", "ml/linear", "ml/lightgbm", "ml/baselines", "ml/ensemble", "ml/evaluations",
    }  # fmt: skip
    graph = merged.resolve_asset_graph()
    upstream = {k.to_user_string() for k in graph.get(dg.AssetKey(["ml", "dataset"])).parent_keys}
    assert upstream == {"marts/features", "marts/labels"}


def test_the_code_location_carries_the_ml_group_with_its_warehouse(kimera_home) -> None:
    from pipelines.definitions import build_location

    defs = build_location()
    repository = defs.get_repository_def()
    ml = {
        k.to_user_string()
        for k, a in repository.assets_defs_by_key.items()
        if a.group_names_by_key[k] == "ml"
    }
    assert {"ml/dataset", "ml/ensemble", "ml/evaluations"} <= ml
    # the backtest needs a window (run config): in the training job's group, every retrain would fail
    assert "ml/backtest" not in ml and "ml/backtest" in {
        k.to_user_string() for k in repository.assets_defs_by_key
    }
    for key in (["ml", "dataset"], ["ml", "evaluations"]):
        assert repository.assets_defs_by_key[dg.AssetKey(key)].op.pool == "duckdb"
    assert repository.get_job("ml_training").partitions_def is not None


def test_training_partition_is_the_last_whole_day_before_the_demo_end() -> None:
    from datetime import datetime

    from kimera.app.demo.train import paper_start, training_partition

    assert training_partition(datetime(2026, 4, 1)) == "2026-03-30"  # its last day is kept for paper trading
    assert training_partition(datetime(2026, 4, 1, 13)) == "2026-03-30"
    assert paper_start(datetime(2026, 4, 1)) == datetime(2026, 3, 31)


@pytest.mark.slow
def test_the_demo_train_stage_runs_the_job_on_the_home_instance(ml_home) -> None:
    from datetime import datetime

    from rich.console import Console
    from rich.progress import Progress

    from kimera.app.demo.context import DemoContext
    from kimera.app.demo.train import train_stage
    from kimera.config import load_config
    from kimera.settings import prepare_home

    prepare_home(ml_home)
    console = Console(quiet=True)
    with Progress(console=console) as progress:
        ctx = DemoContext(
            ml_home, load_config(), datetime(2026, 1, 1), datetime(2026, 2, 11, 5), progress, console
        )
        try:
            lines = train_stage(ctx)
            runs = ctx.instance.get_runs()
        finally:
            ctx.close()
    assert lines[0].startswith("train: partition 2026-02-09")
    assert sum("accuracy" in line and "Sharpe" in line for line in lines) == 7
    # each model beside the simulator's Bayes-optimal accuracy on its test bars, and the recovery
    assert sum("Sharpe" in line and "Bayes A*" in line and "recovery" in line for line in lines) == 7
    assert (
        len(runs) == 1
        and runs[0].job_name == "ml_training"
        and runs[0].tags["dagster/partition"] == "2026-02-09"
    )


def test_a_demo_too_short_to_train_says_so_and_how_many_days_it_needs(ml_home) -> None:
    from datetime import datetime

    from rich.console import Console
    from rich.progress import Progress

    from kimera.app.demo.context import DemoContext
    from kimera.app.demo.train import train_stage
    from kimera.config import load_config

    console = Console(quiet=True)
    with Progress(console=console) as progress:
        ctx = DemoContext(
            ml_home, load_config(), datetime(2026, 1, 1), datetime(2026, 1, 10), progress, console
        )
        lines = train_stage(ctx)
        ctx.close()
    assert lines == [
        "train: not run: 191 labelled bars before 2026-01-08 + 1 day, the walk-forward needs 652 "
        "(models.train_bars + purge + test_bars); use --days 36 or more"
    ]
