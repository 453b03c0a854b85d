"""The model server: the promoted forecaster (and any stored model, by name or tag) over HTTP.

``bentoml serve bentos.service:Forecaster`` (or ``kimera serve``) serves:

- ``POST /predict``: one window -> one prediction. The latency path: no batching.
- ``POST /predict_batch``: a list of windows -> a list of predictions, in order. Concurrent calls
  are merged by BentoML's adaptive batching.
- ``POST /predict_array``: many windows as one ``.npy`` array (multipart) -> forecasts column by
  column. The bulk path: no JSON numbers to parse.
- ``GET /v1/models``, ``GET /v1/models/{tag}``: what is stored and servable, with metadata.
- ``GET /v1/health``: the served model and what is loaded; BentoML adds ``/readyz``, ``/livez``,
  ``/metrics``.

The served tag is, in order: the bento argument ``model`` (``bentoml build|serve --arg
model=TAG``; a built bento remembers it), the promotion pointer under ``KIMERA_HOME`` (followed
while the server runs), or the one Kimera model a built bento carries.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Annotated

import bentoml
import numpy as np
from bentoml.exceptions import InvalidArgument, NotFound
from bentoml.validators import ContentType
from fastapi import FastAPI, HTTPException
from pydantic import Field

from bentos.catalogue import BadWindow, Catalogue, UnknownModel, activate
from bentos.schemas import MAX_BATCH, ArrayPrediction, Health, ModelInfo, Prediction, WindowIn
from bentos.tags import served_tag

SERVED = served_tag()
# Adaptive batching of /predict_batch. A request is shed (503) when the dispatcher expects its
# wait to pass max_latency_ms, so the window is wide: batches still leave as soon as the worker is
# free, and only a backlog of many seconds sheds load (measured in bench/serving.py).
MAX_LATENCY_MS = 60_000
MAX_BATCH_SIZE = 8192

http = FastAPI(title="Kimera model info")


@bentoml.service(
    name="kimera-forecaster",
    workers=1,  # one process: the models are small and CPU-bound; a second worker only adds contention
    traffic={"timeout": 60},
    # no access log line per request (a third of the framework's CPU per call); errors are still
    # logged, and /metrics counts every request with its latency
    logging={"access": {"enabled": False}},
)
@bentoml.asgi_app(http, path="/v1")
class Forecaster:
    """Forecasts of the forward log return: point, interval and P(up), from raw feature windows."""

    model = bentoml.models.BentoModel(SERVED.tag)  # class level: `bentoml build` packages it

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(1)  # the kernels training used: served predictions match it bit for bit
        self.started = time.monotonic()
        self.catalogue = activate(Catalogue(str(self.model.tag), follow_pointer=SERVED.from_pointer))

    # --- predictions ---------------------------------------------------------------------------
    # Both run on the event loop (async): a CPU-bound forward of a few windows is cheaper than the
    # hop to a worker thread that BentoML makes for a sync method, and one worker serialises anyway.
    @bentoml.api(route="/predict")
    async def predict(self, request: WindowIn, /) -> Prediction:
        """Forecast from one window (of the promoted model, or of ``model``)."""
        return self._predict([request])[0]

    @bentoml.api(
        route="/predict_batch", batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS
    )
    async def predict_batch(
        self, windows: Annotated[list[WindowIn], Field(min_length=1, max_length=MAX_BATCH)]
    ) -> list[Prediction]:
        """Forecasts from many windows, in the order given; each window may name its model."""
        return self._predict(windows)

    @bentoml.api(route="/predict_array")
    async def predict_array(
        self,
        windows: Annotated[Path, ContentType("application/octet-stream")],
        assets: list[str],
        model: str | None = None,
    ) -> ArrayPrediction:
        """Forecasts for ``windows``, an ``.npy`` file (``numpy.save``) of shape (n, seq_len, features),
        with ``assets`` the asset of each window (a JSON list) and ``model`` as in /predict."""
        try:
            served = self.catalogue.get(model)
        except UnknownModel as exc:
            raise NotFound(str(exc)) from None
        x = read_windows(Path(windows), served.spec())
        try:
            fc = served.model.predict(x, assets)
        except ValueError as exc:  # shape, NaN, asset count, unknown asset: the model says what it takes
            raise InvalidArgument(f"{exc}; {served.tag} takes {served.spec()}") from None
        return ArrayPrediction(
            model_tag=served.tag, horizon=served.model.horizon, levels=list(served.model.levels),
            forecast=fc.ret.tolist(), lower=fc.lower.tolist(), upper=fc.upper.tolist(), p_up=fc.p_up.tolist(),
            quantiles=fc.quantiles.tolist(),
        )  # fmt: skip

    def _predict(self, windows: list[WindowIn]) -> list[Prediction]:
        out: list[Prediction | None] = [None] * len(windows)
        by_tag: dict[str, list[int]] = {}
        for i, w in enumerate(windows):
            by_tag.setdefault(w.tag or self._check(w), []).append(i)
        for tag, index in by_tag.items():
            served = self.catalogue.get(tag)
            x = np.asarray([windows[i].window for i in index], dtype=np.float64)
            assets = [windows[i].asset for i in index]
            fc = served.model.predict(x, assets)
            horizon = served.model.horizon
            columns = zip(
                fc.ret.tolist(),
                fc.lower.tolist(),
                fc.upper.tolist(),
                fc.p_up.tolist(),
                fc.quantiles.tolist(),
                strict=True,
            )
            for i, asset, (ret, lower, upper, p_up, quantiles) in zip(index, assets, columns, strict=True):
                # built from floats the model just made: no validation to pay for, per window
                out[i] = Prediction.model_construct(
                    model_tag=tag, asset=asset, horizon=horizon, forecast=ret, lower=lower, upper=upper,
                    p_up=p_up, quantiles=quantiles,
                )  # fmt: skip
        return out  # type: ignore[return-value]

    def _check(self, w: WindowIn) -> str:
        """A window built in-process without the catalogue's check (e.g. ``model_construct``)."""
        try:
            return self.catalogue.check(w.model, w.asset, w.window)
        except (BadWindow, UnknownModel) as exc:
            raise bentoml.exceptions.InvalidArgument(str(exc)) from None

    # --- info and health -----------------------------------------------------------------------
    @http.get("/health")
    async def health(self) -> Health:
        return Health(
            status="ok",
            served_model=self.catalogue.default_tag,
            loaded_models=self.catalogue.loaded(),
            uptime_s=round(time.monotonic() - self.started, 3),
        )

    @http.get("/models")
    async def models(self) -> list[ModelInfo]:
        """Every Kimera model in the store, newest first."""
        stored = sorted(
            (m for m in bentoml.models.list() if m.tag.name.startswith("kimera-")),
            key=lambda m: m.info.creation_time,
            reverse=True,
        )
        return [self._info(m) for m in stored]

    @http.get("/models/{tag}")
    async def model_info(self, tag: str) -> ModelInfo:
        """One model (``name`` for the newest version, or ``name:version``)."""
        from bentos.catalogue import resolve

        try:
            return self._info(resolve(tag))
        except UnknownModel as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    def _info(self, stored) -> ModelInfo:
        meta = stored.info.metadata
        return ModelInfo(
            tag=str(stored.tag),
            kind=str(meta.get("kind", "")),
            promoted=str(stored.tag) == self.catalogue.default_tag,
            horizon=int(meta.get("horizon", 0)),
            seq_len=int(meta.get("seq_len", 0)),
            features=list(meta.get("features", [])),
            assets=list(meta.get("assets", [])),
            quantiles=list(meta.get("quantiles", [])),
            data_window={k: str(v) for k, v in (meta.get("data_window") or {}).items()},
            metrics={k: v for k, v in (meta.get("metrics") or {}).items() if isinstance(v, int | float)},
            seeds=list(meta.get("seeds", [])),
            code_version=str(meta.get("code_version", "")),
            created_at=stored.info.creation_time.isoformat(),
        )


def read_windows(path: Path, spec: str) -> np.ndarray:
    """The array in an uploaded ``.npy`` file (no pickle), as float64; InvalidArgument if it is not one."""
    try:
        x = np.load(io.BytesIO(path.read_bytes()), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidArgument(
            f"windows must be a .npy file written by numpy.save ({exc}); the model takes {spec}"
        ) from None
    if x.dtype.kind not in "fiu":
        raise InvalidArgument(f"windows must hold numbers, got dtype {x.dtype}; the model takes {spec}")
    return x.astype(np.float64, copy=False)
