"""4xx answers that name the field, what was given and what is accepted."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "(body)"


def _accepted(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "the field is required"
    if kind == "extra_forbidden":
        return "no such field; see the OpenAPI schema at /docs"
    if kind == "enum":
        return f"one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern')}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return error["msg"].lower()
    return error["msg"].removeprefix("Value error, ")


def validation_payload(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The 422 body for pydantic's validation ``errors``: each field, what was given, what is accepted."""
    fields = []
    for e in errors:
        given = None if e["type"] == "missing" else e.get("input")
        fields.append({"field": _field(tuple(e["loc"])), "given": given, "accepted": _accepted(e)})
    message = "; ".join(
        f"{f['field']}: {'missing' if f['given'] is None else repr(f['given'])[:80]} is not accepted ({f['accepted']})"
        for f in fields
    )
    return {"error": "invalid_request", "message": message, "fields": _jsonable(fields)}


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content=validation_payload(exc.errors()))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def problem(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "message": message, "fields": []})
