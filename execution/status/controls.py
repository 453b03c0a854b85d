"""The status page's controls: the kill switch and risk limits, behind the view token AND a second factor.

``GET /status/controls`` (with the view token's cookie) asks for a code from the operator's
authenticator (or a recovery code); a code that passes opens a control session of
``SESSION_S`` seconds (an HttpOnly, SameSite=Strict cookie scoped to the controls), in which the page
halts, reduces or releases the kill switch and changes risk limits. Wrong codes count toward the
lockout of :mod:`execution.second_factor`. Without an enrolled second factor the controls stay shut.
Forms post to the same origin only (a foreign ``Origin`` is refused), and nothing here runs script.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from execution.killswitch import SwitchState
from execution.second_factor import Refused
from execution.security_keys import KeyRefused
from execution.status import COOKIE

CONTROLS_PATH = "/status/controls"
UNLOCK_PATH = f"{CONTROLS_PATH}/unlock"
KILLSWITCH_PATH = f"{CONTROLS_PATH}/killswitch"
RISK_PATH = f"{CONTROLS_PATH}/risk"
KEY_PATH = f"{CONTROLS_PATH}/security-key"  # WebAuthn: /register-options, /register, /unlock-options, /unlock
KEY_PATHS = [f"{KEY_PATH}/{step}" for step in ("register-options", "register", "unlock-options", "unlock")]
CONTROL_PATHS = [CONTROLS_PATH, UNLOCK_PATH, KILLSWITCH_PATH, RISK_PATH, *KEY_PATHS]
SESSION_COOKIE = "kimera_controls"
SESSION_S = 600.0


def _page(body: str, status: int = 200, message: str | None = None) -> HTMLResponse:
    note = f'<p id="message" class="message">{html.escape(message)}</p>' if message else ""
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Kimera controls</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }} .message {{ color: #c0392b; font-weight: bold; }}
button, input {{ font-size: 16px; min-height: 44px; margin: 0.2em 0.2em 0.2em 0; }}
@media (max-width: 600px) {{ body {{ margin: 0.8em; }} label {{ display: block; }} input {{ width: 100%; box-sizing: border-box; }} }}
form {{ margin: 0.6em 0; }} label {{ margin-right: 0.8em; }}</style></head><body>
<h1>Kimera controls</h1><p><a href="/status">back to the status page</a></p>{note}{body}</body></html>""",
        status_code=status,
        headers={"cache-control": "no-store"},
    )


def controls_router(token: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    sessions: dict[str, float] = {}  # session token -> expiry (monotonic seconds)

    def viewer(request: Request) -> bool:
        given = request.cookies.get(COOKIE)
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    def in_session(request: Request) -> bool:
        now = time.monotonic()
        for stale in [s for s, expiry in sessions.items() if expiry <= now]:
            del sessions[stale]
        given = request.cookies.get(SESSION_COOKIE)
        return given is not None and any(hmac.compare_digest(given.encode(), s.encode()) for s in sessions)

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host')}"

    async def form(request: Request) -> dict[str, str]:
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=20)
        return {k: v[0] for k, v in fields.items()}

    def shut(request: Request) -> Response | None:
        if not viewer(request):
            return _page("<p>Open the status URL that `kimera execute` printed first.</p>", 401)
        if request.app.state.second_factor is None:
            return _page(
                "<p>The controls need a second factor: run <code>kimera operator enrol</code>, "
                "then restart <code>kimera execute</code>.</p>",
                403,
            )
        return None

    @router.get(CONTROLS_PATH, response_class=HTMLResponse)
    async def controls(request: Request) -> Response:
        refused = shut(request)
        if refused is not None:
            return refused
        if not in_session(request):
            return _unlock_form()
        return _controls(request.app.state.service)

    @router.post(UNLOCK_PATH)
    async def unlock(request: Request) -> Response:
        refused = shut(request)
        if refused is not None:
            return refused
        if not same_origin(request):
            return _page("<p>Refused: the form came from another site.</p>", 403)
        code = (await form(request)).get("code")
        try:
            request.app.state.second_factor.check(code, "open the status page's controls")
        except Refused as exc:
            return _unlock_form(str(exc), 403)
        session = secrets.token_urlsafe(32)
        sessions[session] = time.monotonic() + SESSION_S
        answer = RedirectResponse(CONTROLS_PATH, status_code=303)
        answer.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path=CONTROLS_PATH,
                          max_age=int(SESSION_S))  # fmt: skip
        return answer

    @router.post(KILLSWITCH_PATH)
    async def killswitch(request: Request) -> Response:
        refused = shut(request)
        if refused is not None:
            return refused
        if not in_session(request) or not same_origin(request):
            return _unlock_form("Open the controls with a code first.", 403)
        fields = await form(request)
        try:
            state = SwitchState(fields.get("state", ""))
        except ValueError:
            return _page(f"<p>Unknown state; one of {[s.value for s in SwitchState]}.</p>", 422)
        reason = fields.get("reason", "").strip()[:200] or "status page controls"
        await request.app.state.service.set_kill_switch(state, reason, cancel_open=False)
        return RedirectResponse(CONTROLS_PATH, status_code=303)

    @router.post(RISK_PATH)
    async def risk(request: Request) -> Response:
        refused = shut(request)
        if refused is not None:
            return refused
        if not in_session(request) or not same_origin(request):
            return _unlock_form("Open the controls with a code first.", 403)
        from execution.api.operator_routes import CHANGEABLE

        fields = await form(request)
        try:
            changes = {k: float(fields[k]) for k in CHANGEABLE if fields.get(k, "").strip()}
            await request.app.state.service.set_risk_limits(changes)
        except (ValueError, ValidationError) as exc:
            message = f"Limits not changed: {exc}".splitlines()[0]
            return _page(_limits_form(request.app.state.service), 422, message)
        return RedirectResponse(CONTROLS_PATH, status_code=303)

    # --- WebAuthn security keys (execution.security_keys) ----------------------------------------
    def origin_of(request: Request) -> str:
        return f"{request.url.scheme}://{request.headers.get('host')}"

    async def key_step(request: Request, needs_session: bool, step) -> Response:
        refused = shut(request)
        if refused is not None:
            return JSONResponse(
                {"error": "unauthorized", "message": "open the status page first"}, status_code=401
            )
        if not same_origin(request) or (needs_session and not in_session(request)):
            return JSONResponse(
                {"error": "forbidden", "message": "open the controls with a code first"}, status_code=403
            )
        if request.app.state.second_factor.status()["locked_for_s"] > 0:
            return JSONResponse(
                {"error": "locked", "message": "operator actions are locked after wrong codes"},
                status_code=403,
            )
        try:
            return await step(request.app.state.security_keys, origin_of(request))
        except KeyRefused as exc:
            return JSONResponse({"error": "refused", "message": str(exc)}, status_code=403)

    @router.post(KEY_PATHS[0])
    async def key_register_options(request: Request) -> Response:
        async def step(keys, origin):
            return Response(keys.registration_options(origin), media_type="application/json")

        return await key_step(request, True, step)

    @router.post(KEY_PATHS[1])
    async def key_register(request: Request) -> Response:
        async def step(keys, origin):
            return JSONResponse({"ok": True, "key": keys.register(json.loads(await request.body()), origin)})

        return await key_step(request, True, step)

    @router.post(KEY_PATHS[2])
    async def key_unlock_options(request: Request) -> Response:
        async def step(keys, origin):
            return Response(keys.authentication_options(origin), media_type="application/json")

        return await key_step(request, False, step)

    @router.post(KEY_PATHS[3])
    async def key_unlock(request: Request) -> Response:
        async def step(keys, origin):
            keys.authenticate(json.loads(await request.body()), origin)
            session = secrets.token_urlsafe(32)
            sessions[session] = time.monotonic() + SESSION_S
            answer = JSONResponse({"ok": True})
            answer.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path=CONTROLS_PATH,
                              max_age=int(SESSION_S))  # fmt: skip
            return answer

        return await key_step(request, False, step)

    return router


# The browser side of WebAuthn: the JSON forms of the options and credentials (WebAuthn Level 3).
_KEY_SCRIPT = """<script>
async function kimeraKey(kind) {
  const note = document.getElementById("key-message");
  try {
    const base = "@KEY_PATH@/" + (kind === "register" ? "register" : "unlock");
    const options = await (await fetch(base + "-options", {method: "POST"})).json();
    if (options.error) throw new Error(options.message);
    const credential = kind === "register"
      ? await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)})
      : await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
    const answer = await (await fetch(base, {method: "POST", headers: {"content-type": "application/json"},
                                             body: JSON.stringify(credential.toJSON())})).json();
    if (!answer.ok) throw new Error(answer.message);
    if (kind === "register") { note.textContent = "security key added"; } else { location.href = "@CONTROLS_PATH@"; }
  } catch (err) { note.textContent = "security key: " + err.message; }
}
</script>""".replace("@KEY_PATH@", KEY_PATH).replace("@CONTROLS_PATH@", CONTROLS_PATH)


def _unlock_form(message: str | None = None, status: int = 200) -> HTMLResponse:
    return _page(
        f"""<form id="unlock" method="post" action="{UNLOCK_PATH}">
<label>Code from your authenticator (or a recovery code)
<input name="code" id="code" autocomplete="one-time-code" inputmode="numeric" required></label>
<button type="submit">Open the controls</button></form>
<p><button type="button" id="key-unlock" onclick="kimeraKey('unlock')">Use a security key</button>
<span id="key-message"></span></p>{_KEY_SCRIPT}""",
        status,
        message,
    )


def _limits_form(service) -> str:
    from execution.api.operator_routes import CHANGEABLE

    inputs = "".join(
        f'<label>{name} <input name="{name}" id="{name}" value="{getattr(service.cfg.risk, name):g}"></label>'
        for name in CHANGEABLE
    )
    return f'<h2>Risk limits</h2><form id="risk" method="post" action="{RISK_PATH}">{inputs}<button type="submit">Change limits</button></form>'


def _controls(service) -> HTMLResponse:
    switch = service.killswitch
    buttons = "".join(
        f'<button type="submit" name="state" value="{s.value}" id="switch-{s.value.lower()}">{s.value}</button>'
        for s in SwitchState
    )
    return _page(
        f"""<p>Kill switch: <strong id="kill-switch">{switch.state.value}</strong> {html.escape(switch.reason)}</p>
<form id="killswitch" method="post" action="{KILLSWITCH_PATH}"><label>Reason <input name="reason" id="reason"></label>
{buttons}</form>{_limits_form(service)}
<h2>Security keys</h2><p><button type="button" id="key-register" onclick="kimeraKey('register')">Add a security key</button>
<span id="key-message"></span></p>{_KEY_SCRIPT}"""
    )
