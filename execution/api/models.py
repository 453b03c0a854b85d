"""Request and answer bodies. Requests forbid unknown fields; money is Decimal (a JSON string or number)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from execution.decimal_text import PlainDecimal
from execution.killswitch import SwitchState

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignalIn(_Request):
    """A model's prediction for one asset (docs/contracts.md): forward log returns over ``horizon`` bars."""

    signal_id: Identifier = Field(description="Idempotency key: a repeat returns the first answer.")
    asset: Annotated[str, Field(pattern=r"^[A-Z0-9]{2,10}$", description="A configured asset, e.g. BTC.")]
    model_tag: Annotated[str, Field(min_length=1, max_length=200)]
    prediction_id: Annotated[str, Field(min_length=1, max_length=200)]
    feature_time: datetime = Field(description="Bar close the features were known at (ISO 8601, UTC).")
    horizon: Annotated[int, Field(ge=1, le=10_000, description="Bars ahead.")]
    forecast: float = Field(description="Forecast forward log return.")
    lower: float = Field(description="Lower bound of the forecast interval.")
    upper: float = Field(description="Upper bound of the forecast interval.")
    p_up: Annotated[float, Field(ge=0, le=1, description="Probability the return is positive.")]
    strategy: Identifier | None = Field(
        default=None, description="With execution.strategies: the strategy it belongs to (else by model_tag)."
    )

    @field_validator("forecast", "lower", "upper")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v) or abs(v) > 10:
            raise ValueError("must be a finite log return between -10 and 10")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> SignalIn:
        if not self.lower <= self.forecast <= self.upper:
            raise ValueError(
                f"lower <= forecast <= upper is required; got lower={self.lower}, forecast={self.forecast}, upper={self.upper}"
            )
        return self


class KillSwitchIn(_Request):
    state: SwitchState = Field(description="ACTIVE, REDUCING or HALTED.")
    reason: Annotated[str, Field(max_length=500)] = ""
    cancel_open: bool = Field(default=False, description="Also cancel every open order.")


class OrderOut(BaseModel):
    client_order_id: str
    parent_id: str
    venue: str
    symbol: str
    side: Literal["buy", "sell"]
    amount: PlainDecimal
    limit_price: PlainDecimal | None
    state: str
    filled: PlainDecimal
    average_price: PlainDecimal | None
    fees: PlainDecimal
    venue_order_id: str | None
    reason: str | None
    signal_id: str | None
    model_tag: str | None
    prediction_id: str | None
    created_at: float
    updated_at: float


class RefusalOut(BaseModel):
    reason: str
    detail: str


class SignalOut(BaseModel):
    signal_id: str
    outcome: Literal["orders", "no_change", "refused"]
    detail: str
    duplicate: bool
    parent_id: str | None
    orders: list[OrderOut]
    refusals: list[RefusalOut] = []
    target: float | None = None
    exposure: float | None = None
    accounts: list[dict[str, Any]] | None = None


class FillOut(BaseModel):
    venue: str
    fill_id: str
    client_order_id: str
    symbol: str
    side: str
    price: PlainDecimal
    amount: PlainDecimal
    fee: PlainDecimal
    at: float


class PositionOut(BaseModel):
    asset: str
    quantity: PlainDecimal
    average_price: PlainDecimal
    realised: PlainDecimal
    fees: PlainDecimal
    mark: PlainDecimal | None
    unrealised: PlainDecimal


class PnlOut(BaseModel):
    realised: PlainDecimal
    unrealised: PlainDecimal
    fees: PlainDecimal
    total: PlainDecimal
    daily: PlainDecimal


class KillSwitchOut(BaseModel):
    state: SwitchState
    reason: str
    changed_at: float


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: list[dict] = []
