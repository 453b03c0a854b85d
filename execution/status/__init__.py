"""The live status page: ``GET /status`` (positions, orders, P&L, latency, kill switch), read-only.

A browser cannot sign requests, so the page has its own access rule instead of the API's keys: a
**view token**. It is the secret ``execution_view_token`` when one is given (so the URL survives
restarts), else a random one made at start, which ``kimera execute`` prints in the URL (a token you
gave is never printed). Opening
``/status?view=<token>`` sets an HttpOnly, SameSite=Strict cookie scoped to ``/status`` and
redirects to ``/status``, so the token leaves the address bar and the page can refresh itself. The
token grants this page (and its JSON, ``?format=json``) only: no other route accepts it, and the
page changes nothing. It also keeps other users of the machine and web pages that reach 127.0.0.1
through the browser (DNS rebinding) away from positions and orders.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from kimera.settings import Settings

STATUS_PATH = "/status"
COOKIE = "kimera_view"
SECRET_NAME = "execution_view_token"


def view_token(settings: Settings) -> str:
    """The secret ``execution_view_token`` if given, else a fresh random token (32 bytes, URL-safe)."""
    given = settings.secret(SECRET_NAME)
    if given is not None and given.get_secret_value():
        return given.get_secret_value()
    return secrets.token_urlsafe(32)


def status_url(host: str, port: int, token: str) -> str:
    return f"http://{host}:{port}{STATUS_PATH}?view={token}"


def status_banner(settings: Settings, host: str, port: int, token: str) -> str:
    """The URL to open: with a generated token in full (like Jupyter's), never a token the user gave."""
    if settings.secret(SECRET_NAME) is not None:
        return status_url(host, port, "<your execution_view_token>")
    return status_url(host, port, token)


def _valid(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def status_router(token: str) -> APIRouter:
    """``GET /status``: the page for a valid view token (cookie or ``?view=``), else 401."""
    router = APIRouter()

    @router.get(STATUS_PATH, tags=["ops"], include_in_schema=True, response_class=HTMLResponse)
    async def status(
        request: Request,
        view: Annotated[str | None, Query(description="The view token `kimera execute` printed.")] = None,
        format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
        kimera_view: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        """Live status (HTML, or JSON with ``format=json``) for the holder of the view token."""
        from execution.status.page import render
        from execution.status.snapshot import snapshot

        if _valid(view, token) and format == "html":
            # the token moves into a cookie and out of the address bar (and the browser's history)
            answer = RedirectResponse(STATUS_PATH, status_code=303)
            answer.set_cookie(COOKIE, token, httponly=True, samesite="strict", path=STATUS_PATH)
            return answer
        if not (_valid(view, token) or _valid(kimera_view, token)):
            message = "open the status URL that `kimera execute` printed (it carries the view token)"
            if format == "json":
                return JSONResponse({"error": "unauthorized", "message": message}, status_code=401)
            return HTMLResponse(
                f"<!doctype html><title>Kimera status</title><p>{message}.</p>", status_code=401
            )
        snap = snapshot(request.app.state.service)
        if format == "json":
            return JSONResponse(snap, headers={"cache-control": "no-store"})
        return HTMLResponse(render(snap), headers={"cache-control": "no-store"})

    return router
