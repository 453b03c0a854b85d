"""Fixtures for the models tests: small worlds of the marts' shape and a small, fast config."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kimera.config import ModelsConfig
from models.marts import align
from models.synthetic import make_world
from models.windows import make_windows


def small_config(**overrides) -> ModelsConfig:
    """Small windows and few epochs, so a whole walk-forward run takes seconds on one core."""
    base = dict(
        seq_len=12,
        train_bars=500,
        val_bars=120,
        test_bars=150,
        max_windows=2,
        seeds=[0, 1],
        max_epochs=8,
        patience=3,
        batch_size=256,
        threads=1,
        lstm={"hidden": 16},
        transformer={"d_model": 16, "heads": 2, "layers": 1, "ff": 32},
        lightgbm={"n_estimators": 150},
    )
    base.update(overrides)
    return ModelsConfig.model_validate(base)


def demo_training_end(config) -> datetime:
    """The training end of the demo's train stage: the day after its training partition."""
    from kimera.app.demo.train import training_partition

    demo_end = config.start_time + timedelta(days=config.demo_days)
    return datetime.fromisoformat(training_partition(demo_end)) + timedelta(days=1)


@pytest.fixture(scope="session")
def planted_world():
    return make_world(bars=1000, strength=0.4, seed=11)


@pytest.fixture(scope="session")
def planted_windows(planted_world):
    return make_windows(align(planted_world.features, planted_world.labels, 1), 12)
