"""Decimals as people write them: ``0`` and ``1.5``, never ``0E-8``, ``1.50000000`` or ``1E+2``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer


def plain_decimal(value: Decimal) -> str:
    """Fixed-point text without an exponent or trailing zeros; the value is unchanged (``Decimal(text) == value``)."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# a Decimal field that goes into JSON as plain text (pydantic's default is str(), e.g. "0E-8")
PlainDecimal = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str, when_used="json")]
