"""Request and answer bodies of the model server.

A window is ``seq_len`` bars, oldest first, each the model's features in its order, as raw
(unscaled) values from ``marts.features``. Bodies are checked when they are parsed, per request,
against the model they name: a bad request gets its own 400 saying what the model accepts, and
never fails the other requests that adaptive batching would have merged it with.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bentos.catalogue import BadWindow, ServedModel, UnknownModel, active, check_asset, check_window

Finite = Annotated[float, Field(allow_inf_nan=False)]
MAX_BATCH = 20_000  # windows in one request


class WindowIn(BaseModel):
    """One window to forecast from."""

    model_config = ConfigDict(extra="forbid")

    # `model` comes first: the asset and the window are checked against the model it names
    model: Annotated[
        str | None,
        Field(
            max_length=200,
            description="Model name (newest version) or name:version; default: the promoted model.",
        ),
    ] = None
    asset: Annotated[str, Field(min_length=1, max_length=20, examples=["BTC"])]
    window: Annotated[
        list[list[Finite]],
        Field(
            min_length=1, max_length=4096, description="seq_len bars (oldest first) x features, raw values"
        ),
    ]

    _tag: str = PrivateAttr(default="")

    @field_validator("model")
    @classmethod
    def _stored(cls, model: str | None) -> str | None:
        _served(model)
        return model

    @field_validator("asset")
    @classmethod
    def _known_asset(cls, asset: str, info: ValidationInfo) -> str:
        if "model" in info.data:  # else the model itself was bad, and said so
            _checked(check_asset, _served(info.data["model"]), asset)
        return asset

    @field_validator("window")
    @classmethod
    def _fits_model(cls, window: list[list[float]], info: ValidationInfo) -> list[list[float]]:
        if "model" in info.data:
            _checked(check_window, _served(info.data["model"]), window)
        return window

    @model_validator(mode="after")
    def _fix_tag(self) -> WindowIn:
        self._tag = _served(self.model).tag  # the version that serves it, even if a promotion follows
        return self

    @property
    def tag(self) -> str:
        """The full tag of the model that serves this window (fixed when the request was read)."""
        return self._tag


def _served(model: str | None) -> ServedModel:
    try:
        return active().get(model)
    except UnknownModel as exc:
        raise PydanticCustomError("unknown_model", str(exc)) from None


def _checked(check, served: ServedModel, value) -> None:
    try:
        check(served, value)
    except BadWindow as exc:
        raise PydanticCustomError("does_not_fit_model", str(exc)) from None


class Prediction(BaseModel):
    """The forecast of the forward log return over ``horizon`` bars after the window's last bar."""

    model_tag: str
    asset: str
    horizon: int
    forecast: float = Field(description="Point forecast (mean) of the forward log return.")
    lower: float = Field(description="Lower end of the prediction interval (lowest quantile).")
    upper: float = Field(description="Upper end of the prediction interval (highest quantile).")
    p_up: float = Field(description="Probability that the forward return is positive.")
    quantiles: list[float] = Field(description="Forecast quantiles at the model's levels (see /v1/models).")


class ModelInfo(BaseModel):
    tag: str
    kind: str
    promoted: bool
    horizon: int
    seq_len: int
    features: list[str]
    assets: list[str]
    quantiles: list[float]
    data_window: dict[str, str] = Field(description="Training data [start, end).")
    metrics: dict[str, float | int | None] = Field(description="Walk-forward test scores.")
    seeds: list[int]
    code_version: str
    created_at: str


class Health(BaseModel):
    status: str
    served_model: str
    loaded_models: list[str]
    uptime_s: float


class ArrayPrediction(BaseModel):
    """Forecasts for an array of windows, column by column, in the order of the windows."""

    model_tag: str
    horizon: int
    levels: list[float] = Field(description="Quantile levels of the columns of ``quantiles``.")
    forecast: list[float]
    lower: list[float]
    upper: list[float]
    p_up: list[float]
    quantiles: list[list[float]]
