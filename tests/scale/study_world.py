"""The world and config the shared-study test and its worker processes agree on."""

from __future__ import annotations

from kimera.config import ModelsConfig
from models.hpo import tuning_windows
from models.marts import align
from models.synthetic import make_world
from models.windows import Windows, make_windows

KIND = "lightgbm"


def study_config() -> ModelsConfig:
    # pruner "none": which trials a median pruner stops depends on the order they finish in
    return ModelsConfig.model_validate(
        dict(
            seq_len=12,
            train_bars=500,
            val_bars=120,
            test_bars=150,
            max_windows=2,
            seeds=[0],
            threads=1,
            lightgbm={"n_estimators": 150},
            hpo={"trials": 9, "folds": 2, "pruner": "none"},
        )
    )


def study_windows(cfg: ModelsConfig) -> Windows:
    world = make_world(bars=1000, strength=0.4, seed=11)
    return tuning_windows(make_windows(align(world.features, world.labels, 1), cfg.seq_len), cfg)
