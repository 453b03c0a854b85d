"""Shared fixtures: every test gets its own KIMERA_HOME, so warehouses and stores never collide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kimera.settings import TELEMETRY_OFF, Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    """Fail the run if a test leaves a process running (set up first, so it is checked last)."""
    from tests.support.leftovers import become_subreaper, describe, kill_all, leftover_processes

    become_subreaper()
    yield
    left = leftover_processes()
    if left:
        what = describe(left)  # before they are killed: a dead process has no command line to show
        kill_all(left)
        pytest.fail(f"tests left {len(left)} process(es) running (now killed):\n{what}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in TELEMETRY_OFF.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def kimera_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh KIMERA_HOME under tmp_path, with the repository's config; yields the settings."""
    home = tmp_path / "kimera-home"
    monkeypatch.setenv("KIMERA_HOME", str(home))
    monkeypatch.setenv("KIMERA_CONFIG", str(REPO_ROOT / "kimera.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("BENTOML_HOME", str(home / "bentoml"))
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()
