"""The models a server can serve: the promoted one, and any stored model by name or tag.

Tags resolve in BentoML's active model store: ``KIMERA_HOME/bentoml/models`` when the server runs
from the repository, the bento's own ``models/`` when it runs from a built bento. Each model is
loaded once (a few are kept). When the served tag came from the promotion pointer, the catalogue
follows the pointer: a new promotion is served from the next request on, without a restart.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kimera.settings import Settings
from models.base import Model

POINTER_CHECK_S = 1.0  # how often the promotion pointer is looked at (a stat call)
KEEP_LOADED = 8


class UnknownModel(LookupError):
    """A model name or tag that is not in the store; the message lists what is."""


class BadWindow(ValueError):
    """A window that does not fit its model; the message says what the model accepts."""


@dataclass(frozen=True)
class ServedModel:
    tag: str  # name:version
    model: Model
    metadata: dict[str, Any]
    labels: dict[str, str]

    def spec(self) -> str:
        m = self.model
        return (
            f"{m.seq_len} bars (oldest first) x {len(m.feature_names)} features "
            f"{list(m.feature_names)}, for assets {list(m.scaler.assets)}"
        )


def stored_names() -> list[str]:
    import bentoml

    return sorted({m.tag.name for m in bentoml.models.list()})


def resolve(tag: str):
    """The BentoML model ``tag`` (``name`` for the newest version) in the active store."""
    import bentoml
    from bentoml.exceptions import BentoMLException, NotFound

    try:
        return bentoml.models.get(tag)
    except NotFound:
        raise UnknownModel(
            f"no model {tag!r} in the store; stored models: {stored_names() or 'none'}"
        ) from None
    except (BentoMLException, ValueError) as exc:
        raise UnknownModel(f"{tag!r} is not a model tag (name or name:version): {exc}") from None


def load(tag: str) -> ServedModel:
    from models.serialize import load_folder

    stored = resolve(tag)
    info = stored.info
    return ServedModel(str(stored.tag), load_folder(stored.path), dict(info.metadata), dict(info.labels))


class Catalogue:
    """Loaded models by tag, the default (served) tag, and the checks every request passes."""

    def __init__(
        self, default_tag: str, follow_pointer: bool = False, settings: Settings | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._loaded: OrderedDict[str, ServedModel] = OrderedDict()
        self._aliases: dict[str, tuple[str, float]] = {}  # a bare name -> (its newest tag, when looked up)
        self._follow = follow_pointer
        self._settings = settings
        self._checked_at = time.monotonic()
        self._default = self.get(default_tag).tag

    @property
    def default_tag(self) -> str:
        """The tag served when a request names no model (the promoted one)."""
        if self._follow and time.monotonic() - self._checked_at >= POINTER_CHECK_S:
            self._checked_at = time.monotonic()
            from models.promoted import read_promoted

            promoted = read_promoted(self._settings)
            if promoted is not None and promoted.tag != self._default:
                self._default = self.get(promoted.tag).tag
        return self._default

    def get(self, tag: str | None = None) -> ServedModel:
        """The model ``tag`` names (default: the served one), loading it on first use."""
        if tag is None:
            tag = self.default_tag
        full, resolved_at = self._aliases.get(tag, (tag, 0.0))
        newest = ":" not in tag or tag.endswith(":latest")
        if newest and time.monotonic() - resolved_at >= POINTER_CHECK_S:
            full = str(resolve(tag).tag)  # a name alone means its newest version: look again now and then
            self._aliases[tag] = (full, time.monotonic())
        served = self._loaded.get(full)
        if served is not None:
            return served
        with self._lock:
            served = load(full)
            self._loaded[served.tag] = served
            while len(self._loaded) > KEEP_LOADED:  # drop the oldest, never the served one
                del self._loaded[next(t for t in self._loaded if t != getattr(self, "_default", None))]
            return served

    def loaded(self) -> list[str]:
        return list(self._loaded)

    def check(self, tag: str | None, asset: str, window: list[list[float]]) -> str:
        """The full tag that will serve ``window``; BadWindow/UnknownModel say what is wrong."""
        served = self.get(tag)
        check_asset(served, asset)
        check_window(served, window)
        return served.tag


def check_asset(served: ServedModel, asset: str) -> None:
    if asset not in served.model.scaler.assets:
        raise BadWindow(
            f"asset {asset!r} is unknown to {served.tag}; it knows {list(served.model.scaler.assets)}"
        )


def check_window(served: ServedModel, window: list[list[float]]) -> None:
    model = served.model
    rows, width = len(window), len(model.feature_names)
    if rows != model.seq_len or any(len(bar) != width for bar in window):
        widths = sorted({len(bar) for bar in window})
        raise BadWindow(f"window has {rows} bars of {widths} features; {served.tag} takes {served.spec()}")


_active: Catalogue | None = None


def activate(catalogue: Catalogue) -> Catalogue:
    """Make ``catalogue`` the one request bodies are checked against (the server's own)."""
    global _active
    _active = catalogue
    return catalogue


def active() -> Catalogue:
    if _active is None:
        raise RuntimeError(
            "no model catalogue is active: create the service (bentos.service.Forecaster) first"
        )
    return _active
