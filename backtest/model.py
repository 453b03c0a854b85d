"""The model a backtest runs: the promoted one (as ``kimera live`` runs it) or one named by tag."""

from __future__ import annotations

from datetime import datetime

from kimera.settings import Settings
from live.model import PromotedModel, _Loaded


class TaggedModel(PromotedModel):
    """:class:`~live.model.PromotedModel` pinned to ``tag`` (``kimera backtest --model TAG``)."""

    def __init__(self, settings: Settings, tag: str) -> None:
        super().__init__(settings, max_age=None)
        from models.registry import get_model
        from models.serialize import load_folder

        stored = get_model(tag, settings)  # RegistryError names the tag and what is stored
        end = datetime.fromisoformat(str(stored.metadata["data_window"]["end"])).replace(tzinfo=None)
        self.loaded = _Loaded(stored.tag, load_folder(stored.path), end, 0)

    def refresh(self) -> bool:
        first, self._first = getattr(self, "_first", True), False
        return first  # the trader shapes its windows once, then the model never changes
