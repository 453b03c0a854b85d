"""Where serving and the model registry reach into BentoML's private API (``bentoml._internal``)."""

from __future__ import annotations

from kimera.fences import Bypass

BENTOML = {"bentoml": "1.4.40"}

BYPASSES: tuple[Bypass, ...] = (
    Bypass(
        name="model store under KIMERA_HOME",
        used_in=("models/registry.py",),
        why="a store at KIMERA_HOME/bentoml/models whatever BENTOML_HOME BentoML was imported with",
        measured_against=BENTOML,
        symbols=("bentoml._internal.models:ModelStore",),
    ),
    Bypass(
        name="bento store under KIMERA_HOME",
        used_in=("bentos/build.py",),
        why="the bentos of this home, not of the BentoML home fixed at import",
        measured_against=BENTOML,
        symbols=("bentoml._internal.bento:BentoStore",),
    ),
    Bypass(
        name="active model store swap",
        used_in=("bentos/tags.py",),
        why="serve KIMERA_HOME's model when BentoML's active store lacks it",
        measured_against=BENTOML,
        symbols=("bentoml._internal.configuration.containers:BentoMLContainer.model_store",),
    ),
)
