"""Which model the server serves, decided once when the service module is imported."""

from __future__ import annotations

from dataclasses import dataclass


class NoServedModel(LookupError):
    """Nothing to serve: no promoted model and no ``--arg model=TAG``."""


@dataclass(frozen=True)
class ServedTag:
    tag: str
    from_pointer: bool  # follow later promotions while running
    source: str


def served_tag() -> ServedTag:
    """The bento argument ``model``, else the promotion pointer, else the one model a bento carries."""
    import bentoml

    from models.promoted import pointer_path, read_promoted

    pinned = getattr(bentoml.use_arguments(), "model", None)
    if pinned:
        return _in_store(ServedTag(str(pinned), False, "the bento argument 'model'"))
    promoted = read_promoted()
    if promoted is not None:
        return _in_store(ServedTag(promoted.tag, True, f"the promotion pointer {pointer_path()}"))
    packaged = [m for m in bentoml.models.list() if m.tag.name.startswith("kimera-")]
    if len(packaged) == 1:
        return ServedTag(str(packaged[0].tag), False, "the one model in this bento")
    raise NoServedModel(
        f"no model to serve: nothing is promoted ({pointer_path()} does not exist) and no model was "
        "named; run the promotion gate (`kimera demo`, or materialise serving/promoted_model in "
        "Dagster), or name one: `bentoml serve bentos.service:Forecaster --arg model=kimera-ensemble:<version>`"
    )


def _in_store(served: ServedTag) -> ServedTag:
    """Use KIMERA_HOME's model store when BentoML's active one (fixed when BentoML first read
    BENTOML_HOME, e.g. ~/bentoml in a notebook) lacks the model but KIMERA_HOME's has it. A built
    bento's own store, which has it, is never replaced."""
    import bentoml
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml.exceptions import NotFound

    from models.registry import model_store

    try:
        bentoml.models.get(served.tag)
    except NotFound:
        store = model_store()
        try:
            store.get(served.tag)
        except NotFound:
            return served  # the service says which tag is missing when it starts
        BentoMLContainer.model_store.set(store)
    return served
