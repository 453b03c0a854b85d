#!/usr/bin/env bash
# Chromium for the browser tests (tests/browser: the Dagster UI and the status page), on a fresh machine.
# Found on PATH: nothing to do. Root with apt-get: Debian's package. Otherwise Playwright's own
# download (needs the internet). If none works, say what to do and exit 1 (setup goes on without it).
# Prints the browser's path on success. Usage: scripts/ensure-chromium.sh [PYTHON]
set -uo pipefail
PY="${1:-.venv/bin/python}"
APT_GET="${KIMERA_APT_GET:-apt-get}"

found() {
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  # Playwright's own download, when an earlier run made one
  "$PY" - <<'PYEOF' 2>/dev/null
import os, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    path = p.chromium.executable_path
if not os.path.exists(path):
    sys.exit(1)
print(path)
PYEOF
}

if found; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v "$APT_GET" >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests (apt-get) ..." >&2
  if "$APT_GET" update -qq >&2 && DEBIAN_FRONTEND=noninteractive "$APT_GET" install -y -qq --no-install-recommends chromium >&2 \
     && found; then
    exit 0
  fi
fi
echo "trying Playwright's Chromium download (needs the internet) ..." >&2
if "$PY" -m playwright install chromium >&2 2>/dev/null && found; then exit 0; fi
cat >&2 <<'MSG'
Chromium was not found and could not be installed here; only the browser tests (tests/browser) need it.
Install it, then run `make setup` again:
  Debian/Ubuntu:  sudo apt-get install -y chromium
  elsewhere:      .venv/bin/python -m playwright install chromium   (downloads it; needs the internet)
or leave the browser tests out: .venv/bin/pytest -m "not browser"
MSG
exit 1
