"""Browser fixtures: Debian's headless Chromium driven by playwright, ``dagster dev`` on a free port,
and a place for screenshots (``test-artifacts/``, gitignored; CI keeps it as the run's artefact)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kimera.settings import Settings
from tests.conftest import REPO_ROOT
from tests.support.dagster_ui import dagster_dev

ARTIFACTS = REPO_ROOT / "test-artifacts"
# Debian's package, else Playwright's own download (`make setup` gets one: scripts/ensure-chromium.sh)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser_page(tmp_path: Path):
    """A page of a fresh headless Chromium (its own user-data dir under tmp_path)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        own = Path(playwright.chromium.executable_path)
        assert CHROMIUM or own.exists(), (
            "Chromium is needed: run scripts/ensure-chromium.sh (make setup does), "
            "or apt-get install -y chromium"
        )
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,  # None: Playwright's own download
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


PHONE = {"width": 390, "height": 844}  # an iPhone 12-14's CSS viewport


@pytest.fixture
def phone_page(tmp_path: Path):
    """A page of a fresh headless Chromium at a phone's viewport (390 x 844, touch, 3x pixels)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-phone-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True,
        )  # fmt: skip
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


NUX_SEEN = "mutation { setNuxSeen }"


@pytest.fixture
def dagster_ui(kimera_home: Settings) -> Iterator[str]:
    """``kimera ui`` (dagster dev) on 127.0.0.1 and a free port, loaded; yields its URL."""
    with dagster_dev(kimera_home) as url:
        # A fresh instance opens a "Join the Dagster community" modal over everything: mark it seen.
        answer = httpx.post(f"{url}/graphql", json={"query": NUX_SEEN}, timeout=30).json()
        assert answer.get("data", {}).get("setNuxSeen") is True, answer
        yield url
