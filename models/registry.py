"""The model registry: trained models in the BentoML model store under ``KIMERA_HOME/bentoml``.

A saved model is a BentoML model named ``kimera-<kind>`` (``kimera-lstm``, ``kimera-transformer``,
``kimera-linear``, ``kimera-lightgbm``, ``kimera-ensemble``) whose folder holds ``config.json``
(kind, features, sequence length, horizon, quantile levels, architecture), ``scaler.npz`` and the
weights (``state_dict.pt`` for networks, read back with ``torch.load(weights_only=True)``;
``linear.npz``; ``lightgbm.txt``; an ensemble keeps each member under ``members/<name>/``).
Metadata: features, seq_len, horizon, data window, walk-forward metrics, seeds, code version.
Loading gives the same predictions as the model that was saved, bit for bit on CPU.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from kimera.settings import Settings, get_settings
from models.base import Model

NAME_PREFIX = "kimera-"


class RegistryError(LookupError):
    """A model that is not in the store, or a name the store does not accept."""


@dataclass(frozen=True)
class StoredModel:
    """A model in the store: its tag (``kimera-ensemble:<version>``), labels, metadata and folder."""

    tag: str
    name: str
    labels: dict[str, str]
    metadata: dict[str, Any]
    path: Path
    created_at: datetime


def model_store(settings: Settings | None = None):
    """The BentoML model store under ``KIMERA_HOME/bentoml/models`` (whatever BentoML was imported with)."""
    from bentoml._internal.models import ModelStore

    settings = settings or get_settings()
    folder = settings.bentoml_home / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(folder))


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit of the code (with ``+dirty`` for uncommitted changes), else the package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"kimera-{version('kimera')}"
        except PackageNotFoundError:
            return "unknown"


def _plain(value: Any) -> Any:
    """Metadata values BentoML accepts (JSON-like): datetimes to ISO strings, numpy to python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def save_model(
    model: Model,
    *,
    data_window: tuple[datetime, datetime],
    metrics: dict[str, Any] | None = None,
    seeds: list[int] | None = None,
    labels: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    name: str | None = None,
    settings: Settings | None = None,
) -> StoredModel:
    """Save ``model`` to the store as ``kimera-<kind>`` (or ``name``); return what was stored.

    ``data_window`` is the training window ``[start, end)`` of the model; ``metrics`` its
    walk-forward scores; ``labels`` short strings for filtering (horizon and kind are added).
    """
    import bentoml

    name = name or f"{NAME_PREFIX}{model.kind}"
    metadata = _plain(
        {
            "kind": model.kind,
            "features": list(model.feature_names),
            "seq_len": model.seq_len,
            "horizon": model.horizon,
            "quantiles": list(model.levels),
            "assets": list(model.scaler.assets),
            "data_window": {"start": data_window[0], "end": data_window[1]},
            "metrics": metrics or {},
            "seeds": seeds or [],
            "params": model.params,
            "code_version": code_version(),
            **(extra or {}),
        }
    )
    all_labels = {"kind": model.kind, "horizon": str(model.horizon), **(labels or {})}
    store = model_store(settings)
    try:
        with bentoml.models.create(name, labels=all_labels, metadata=metadata, _model_store=store) as ref:
            model.save(Path(ref.path))
    except ValueError as exc:
        raise RegistryError(f"cannot save model as {name!r}: {exc}") from None
    return get_model(str(ref.tag), settings)


def _stored(bento_model) -> StoredModel:
    info = bento_model.info
    return StoredModel(
        tag=str(bento_model.tag),
        name=bento_model.tag.name,
        labels=dict(info.labels),
        metadata=dict(info.metadata),
        path=Path(bento_model.path),
        created_at=info.creation_time,
    )


def get_model(tag: str, settings: Settings | None = None) -> StoredModel:
    """The stored model ``tag`` (``name:version``, or ``name`` for the newest); RegistryError if absent."""
    from bentoml.exceptions import BentoMLException, NotFound

    try:
        return _stored(model_store(settings).get(tag))
    except NotFound:
        known = sorted({m.tag.name for m in model_store(settings).list()})
        raise RegistryError(f"no model {tag!r} in the store; stored names: {known or 'none'}") from None
    except BentoMLException as exc:
        raise RegistryError(f"bad model tag {tag!r}: {exc}") from None


def list_models(name: str | None = None, settings: Settings | None = None) -> list[StoredModel]:
    """Stored models (of ``name`` when given), newest first."""
    from bentoml.exceptions import NotFound

    try:
        found = model_store(settings).list(name)
    except NotFound:
        return []
    return sorted((_stored(m) for m in found), key=lambda m: m.created_at, reverse=True)


def load_model(tag: str, settings: Settings | None = None) -> Model:
    """The model stored as ``tag``, ready to predict (CPU; torch weights loaded with weights_only=True)."""
    from models.serialize import load_folder

    return load_folder(get_model(tag, settings).path)


def delete_model(tag: str, settings: Settings | None = None) -> None:
    get_model(tag, settings)
    model_store(settings).delete(tag)
