"""Hyperparameter search: scored inside the training window, pruned, stored in an RDB we can reopen."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from models.hpo import inner_folds, search, storage_url, tuning_windows
from models.walk_forward import evaluation_folds
from tests.support.servers import postgres  # noqa: F401  (fixture)

from .conftest import small_config


def test_search_stays_before_the_first_test_window(planted_windows) -> None:
    cfg = small_config(hpo={"folds": 2})
    tuning = tuning_windows(planted_windows, cfg)
    first_test = evaluation_folds(planted_windows, cfg)[0].test[0]
    assert tuning.bar_time.max() < first_test
    for fold in inner_folds(tuning, cfg):
        assert fold.test[1] <= tuning.bar_time.max() + np.timedelta64(1, "h")


def test_sqlite_study_under_kimera_home_prunes_and_resumes(kimera_home, planted_windows) -> None:
    cfg = small_config(hpo={"trials": 8, "folds": 3, "pruner": "median"})
    storage = storage_url(cfg, kimera_home.optuna_storage)
    assert storage == f"sqlite:///{kimera_home.home_dir / 'optuna.sqlite'}"
    kimera_home.home_dir.mkdir(parents=True, exist_ok=True)
    tuning = tuning_windows(planted_windows, cfg)
    first = search("lightgbm", tuning, cfg, storage, "kimera-lightgbm-test")
    assert (kimera_home.home_dir / "optuna.sqlite").is_file()
    assert first.trials == 8 and first.complete >= 1
    assert first.pruned >= 1  # trials behind the median after a fold stop early
    assert 4 <= first.best_params["num_leaves"] <= 63
    # the config's hyperparameters were the first trial; the best is adopted only if clearly better
    study = optuna.load_study(study_name="kimera-lightgbm-test", storage=storage)
    assert study.trials[0].user_attrs["default"] and study.trials[0].params["num_leaves"] == 15
    if first.chosen == "default":
        assert first.params["num_leaves"] == 15 and (first.improvement_z or 0) < 2
    else:
        assert first.params == first.best_params and first.improvement_z >= 2
    again = search("lightgbm", tuning, cfg, storage, "kimera-lightgbm-test", trials=2)
    assert again.trials == 10  # the study was reopened, not restarted
    assert again.best_value <= first.best_value
    assert len(optuna.load_study(study_name="kimera-lightgbm-test", storage=storage).trials) == 10


@pytest.fixture
def postgres_url(postgres) -> str:  # noqa: F811
    """optuna's URL of a database on a throwaway PostgreSQL server (tests/support/servers.py)."""
    return postgres.url(postgres.create_database("optuna"), driver="postgresql+psycopg")


def test_postgresql_storage_shares_one_study_between_runs(postgres_url, planted_windows) -> None:
    cfg = small_config(hpo={"trials": 3, "folds": 2, "storage": postgres_url})
    storage = storage_url(cfg, "sqlite:///unused.sqlite")
    assert storage == postgres_url
    tuning = tuning_windows(planted_windows, cfg)
    search("lightgbm", tuning, cfg, storage, "shared")
    # a second search (as another machine would) adds its trials to the same study
    search("lightgbm", tuning, cfg, storage, "shared", trials=2)
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 5


def _search_lightgbm(storage: str, name: str, strength: float, lightgbm: dict):
    from models.marts import align
    from models.synthetic import make_world
    from models.windows import make_windows

    world = make_world(bars=1000, strength=strength, seed=11)
    windows = make_windows(align(world.features, world.labels, 1), 12)
    cfg = small_config(hpo={"trials": 8, "folds": 2}, lightgbm=lightgbm)
    return search("lightgbm", tuning_windows(windows, cfg), cfg, storage, name)


def test_search_result_is_adopted_only_when_clearly_better_than_the_defaults(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite'}"
    # defaults that can barely learn (5 tiny trees at a crawl) on a world with a strong signal
    crippled = {
        "learning_rate": 0.01,
        "n_estimators": 5,
        "num_leaves": 4,
        "min_child_samples": 200,
        "lags": 1,
    }
    found = _search_lightgbm(storage, "signal", 0.5, crippled)
    assert found.chosen == "searched" and found.improvement_z >= 2
    assert found.params == found.best_params and found.best_value < found.default_value
    # where nothing is predictable, a "better" trial is noise: the defaults stay
    null = _search_lightgbm(storage, "null", 0.0, {"n_estimators": 150})
    assert null.chosen == "default" and null.improvement_z < 2
    assert null.params["num_leaves"] == 15 and null.params["min_child_samples"] == 50
