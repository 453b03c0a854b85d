"""A warehouse with simulated marts and linear models trained up to chosen days, with or without skill.

The gate judges ``serving.model``; here that is ``kimera-linear`` (a ridge regression trains in
milliseconds), so the tests can make a model that knows the planted signal and one trained on
shuffled labels that does not, each with the training window they need.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest

from tests.bentos.world import write_config, write_marts

SERVING = {"model": "kimera-linear", "promotion": {"min_bars": 24, "min_improvement": 0.0, "z": 0.0}}
T1, T2 = datetime(2026, 1, 26), datetime(2026, 1, 28)


@pytest.fixture(scope="session")
def gate_world():
    from kimera.config import ModelsConfig
    from models.marts import align
    from models.synthetic import make_world
    from tests.bentos.world import SMALL_MODELS

    world = make_world(bars=1000, strength=0.4, seed=21, horizons=(1, 4))
    return SimpleNamespace(
        world=world,
        marts=align(world.features, world.labels, 1),
        cfg=ModelsConfig.model_validate(SMALL_MODELS),
    )


@pytest.fixture
def gate_home(kimera_home, tmp_path, monkeypatch, gate_world):
    """KIMERA_HOME with the marts, a config judging kimera-linear, and a ``save(end, skill)`` helper."""
    from kimera.settings import get_settings
    from models.marts import align
    from models.registry import save_model
    from models.walk_forward import final_fold, train_final_member
    from models.windows import make_windows

    def configure(**serving) -> None:
        monkeypatch.setenv(
            "KIMERA_CONFIG", str(write_config(tmp_path / "kimera.yaml", serving={**SERVING, **serving}))
        )
        get_settings.cache_clear()

    def save(end: datetime, skill: bool = True, window_end: datetime | None = None, horizon: int = 1):
        """A linear model trained on bars before ``end`` (labels shuffled when not ``skill``), stored."""
        marts = (
            gate_world.marts
            if horizon == 1
            else align(gate_world.world.features, gate_world.world.labels, horizon)
        )
        windows = make_windows(marts.until(end), gate_world.cfg.seq_len)
        if not skill:
            rng = np.random.default_rng(0)
            windows = replace(windows, fwd_ret=rng.permutation(windows.fwd_ret))
        model = train_final_member("linear", windows, gate_world.cfg)
        fold = final_fold(windows, gate_world.cfg)
        data_window = (fold.train_start.astype(datetime), window_end or fold.train_end.astype(datetime))
        return save_model(model, data_window=data_window, metrics={"log_loss": 0.69}, settings=get_settings())

    configure()
    settings = get_settings()
    write_marts(settings.warehouse_path, gate_world.world)
    return SimpleNamespace(settings=settings, save=save, configure=configure)


def run_gate():
    import duckdb

    from kimera.config import load_config
    from kimera.settings import get_settings
    from pipelines.serving.gate import run_gate as gate

    settings = get_settings()
    with duckdb.connect(str(settings.warehouse_path)) as con:
        return gate(con, settings, load_config(settings=settings))


def promotions():
    import duckdb

    from kimera.settings import get_settings

    with duckdb.connect(str(get_settings().warehouse_path)) as con:
        return con.execute("SELECT * FROM ml.promotions ORDER BY decided_at").df()
