"""Load any saved model folder by the ``kind`` in its ``config.json``."""

from __future__ import annotations

from pathlib import Path

from models.base import Model, ModelFileError, read_config, read_scaler


def model_class(kind: str) -> type[Model]:
    from models.ensemble import EnsembleModel
    from models.neural import NetworkModel
    from models.tabular import GbmModel, LinearModel

    classes = {
        "lstm": NetworkModel,
        "transformer": NetworkModel,
        "linear": LinearModel,
        "lightgbm": GbmModel,
        "ensemble": EnsembleModel,
    }
    if kind not in classes:
        raise ModelFileError(f"unknown model kind {kind!r} in config.json; expected one of {sorted(classes)}")
    return classes[kind]


def load_folder(folder: Path) -> Model:
    """The model saved in ``folder`` by :meth:`Model.save` (torch weights read with weights_only=True)."""
    folder = Path(folder)
    config = read_config(folder)
    return model_class(config.get("kind", ""))._load(folder, config, read_scaler(folder))
