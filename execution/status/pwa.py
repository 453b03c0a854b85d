"""The status page as a progressive web app: a manifest, an icon, a service worker and an offline shell.

A phone can add ``/status`` to its home screen and open it full-screen. The service worker
(``/status/sw.js``, scope ``/status``) caches only the shell (the offline page, the manifest, the
icon): never the status page itself, which holds positions and is ``no-store``. A page load that
cannot reach the service gets the offline shell, which says so and tries again. These files hold
no account data, so they need no view token (a manifest is fetched without cookies anyway).
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from execution.status import STATUS_PATH

MANIFEST_PATH = f"{STATUS_PATH}/manifest.webmanifest"
WORKER_PATH = f"{STATUS_PATH}/sw.js"
OFFLINE_PATH = f"{STATUS_PATH}/offline"
ICON_PATH = f"{STATUS_PATH}/icon.svg"
PWA_PATHS = [MANIFEST_PATH, WORKER_PATH, OFFLINE_PATH, ICON_PATH]
SHELL_VERSION = "kimera-status-shell-v1"  # a new shell gets a new cache; the worker drops old ones
THEME = "#1d2b3a"

MANIFEST = {
    "name": "Kimera execution status",
    "short_name": "Kimera",
    "description": "Positions, P&L, alerts and the kill switch of a Kimera execution service.",
    "start_url": STATUS_PATH,
    "scope": STATUS_PATH,
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": THEME,
    "icons": [{"src": ICON_PATH, "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
}

ICON = f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12"
fill="{THEME}"/><path d="M18 14v36M18 32l20-18M18 32l20 18" stroke="#fff" stroke-width="7" fill="none"
stroke-linecap="round"/></svg>"""

WORKER = f"""// Kimera status: cache the offline shell only; the status page itself is never stored.
const SHELL = "{SHELL_VERSION}";
const FILES = ["{OFFLINE_PATH}", "{MANIFEST_PATH}", "{ICON_PATH}"];
self.addEventListener("install", (event) => {{
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
}});
self.addEventListener("activate", (event) => {{
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
}});
self.addEventListener("fetch", (event) => {{
  const request = event.request;
  if (request.mode === "navigate") {{
    event.respondWith(fetch(request).catch(() => caches.match("{OFFLINE_PATH}")));
  }} else if (FILES.includes(new URL(request.url).pathname)) {{
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }}
}});
"""

OFFLINE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="theme-color" content="{THEME}">
<link rel="manifest" href="{MANIFEST_PATH}"><title>Kimera status: offline</title>
<style>body {{ font: 16px/1.5 system-ui, sans-serif; margin: 1.5em; color: #222; }}
#offline {{ padding: 1em; border-radius: 8px; background: #fdf2e9; border: 1px solid #e59866; }}
a.retry {{ display: inline-block; margin-top: 1em; padding: 0.8em 1.4em; background: {THEME}; color: #fff;
border-radius: 6px; text-decoration: none; }}</style></head><body>
<h1>Kimera execution</h1>
<div id="offline"><strong>You are offline.</strong> The execution service cannot be reached from this
device, so positions, P&amp;L and the kill switch are not shown: what is here could be stale. Trading
does not depend on this page; it goes on (or stays halted) on the server.</div>
<a class="retry" id="retry" href="{STATUS_PATH}">Try again</a>
<script>addEventListener("online", () => location.replace("{STATUS_PATH}"));</script>
</body></html>"""

# what the status page's <head> gains: phone viewport, manifest, theme and the worker's registration
HEAD = f"""<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="theme-color" content="{THEME}"><link rel="manifest" href="{MANIFEST_PATH}">
<link rel="icon" href="{ICON_PATH}" type="image/svg+xml">
<script>if ("serviceWorker" in navigator) navigator.serviceWorker.register("{WORKER_PATH}", {{scope: "{STATUS_PATH}"}});</script>"""


def pwa_router() -> APIRouter:
    """The manifest, the icon, the worker (allowed the scope ``/status``) and the offline shell."""
    router = APIRouter(include_in_schema=False)

    @router.get(MANIFEST_PATH)
    async def manifest() -> Response:
        return Response(json.dumps(MANIFEST), media_type="application/manifest+json")

    @router.get(ICON_PATH)
    async def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml", headers={"cache-control": "max-age=86400"})

    @router.get(WORKER_PATH)
    async def worker() -> Response:
        # the worker lives under /status/ but serves the page /status itself
        headers = {"service-worker-allowed": STATUS_PATH, "cache-control": "no-cache"}
        return Response(WORKER, media_type="text/javascript", headers=headers)

    @router.get(OFFLINE_PATH)
    async def offline() -> HTMLResponse:
        return HTMLResponse(OFFLINE)

    return router
