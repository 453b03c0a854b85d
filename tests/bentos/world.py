"""A served world for the serving tests: simulated marts, a small trained ensemble, a linear model.

Training happens once per test process (``trained()``); ``install`` puts the world into a fresh
KIMERA_HOME: the marts in its warehouse, both models in its store, the ensemble promoted, and a
config whose models section matches what was trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import duckdb
import yaml

REPO_CONFIG = Path(__file__).resolve().parents[2] / "kimera.yaml"
SMALL_MODELS = {
    "seq_len": 12,
    "train_bars": 500,
    "val_bars": 120,
    "test_bars": 150,
    "max_windows": 2,
    "seeds": [0],
    "max_epochs": 6,
    "patience": 3,
    "lstm": {"hidden": 16},
    "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff": 32},
    "lightgbm": {"n_estimators": 100},
    "screen_t": 0.0,  # no feature screen: the serving tests send windows of all six of the world's columns
}
TRAIN_END = datetime(2026, 2, 1)  # the models learn from bars before this; the world runs on after it


@dataclass(frozen=True)
class Trained:
    world: object  # models.synthetic.World
    windows: object  # every window of the world
    ensemble: object
    linear: object
    data_window: tuple[datetime, datetime]


@lru_cache(maxsize=1)
def trained() -> Trained:
    from kimera.config import ModelsConfig
    from models.marts import align
    from models.synthetic import make_world
    from models.walk_forward import final_fold, train_final
    from models.windows import make_windows

    cfg = ModelsConfig.model_validate(SMALL_MODELS)
    world = make_world(bars=1000, strength=0.4, seed=5)  # hourly bars from 2026-01-01 01:00
    marts = align(world.features, world.labels, 1)
    known = make_windows(marts.until(TRAIN_END), cfg.seq_len)
    models = train_final(known, cfg)
    fold = final_fold(known, cfg)
    window = (fold.train_start.astype(datetime), fold.train_end.astype(datetime))
    return Trained(world, make_windows(marts, cfg.seq_len), models["ensemble"], models["linear"], window)


def _merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def write_config(path: Path, **sections) -> Path:
    """The repository's config with the small models section and ``sections`` merged in."""
    config = yaml.safe_load(REPO_CONFIG.read_text())
    config["models"] = SMALL_MODELS
    path.write_text(yaml.safe_dump(_merged(config, sections)))
    return path


def write_marts(warehouse: Path, world) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        con.register("f", world.features)
        con.register("l", world.labels)
        con.execute("CREATE OR REPLACE TABLE marts.features AS SELECT * FROM f")
        con.execute("CREATE OR REPLACE TABLE marts.labels AS SELECT * FROM l")


def install(settings, trained_world: Trained) -> dict[str, str]:
    """Marts, both models and the promotion of the ensemble under ``settings.home_dir``; the tags."""
    from models.promoted import write_promoted
    from models.registry import save_model

    write_marts(settings.warehouse_path, trained_world.world)
    tags = {}
    for name in ("ensemble", "linear"):
        model = getattr(trained_world, name)
        stored = save_model(model, data_window=trained_world.data_window, metrics={"log_loss": 0.68}, seeds=[0],
                            settings=settings)  # fmt: skip
        tags[name] = stored.tag
    write_promoted(tags["ensemble"], "test-promotion", settings)
    return tags


def use_store(settings) -> None:
    """Point BentoML's process-wide model store at this KIMERA_HOME (it is fixed at first use otherwise)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    from models.registry import model_store

    BentoMLContainer.model_store.set(model_store(settings))
