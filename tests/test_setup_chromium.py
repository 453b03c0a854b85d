"""``make setup`` obtains Chromium for the browser tests (scripts/ensure-chromium.sh), or says what to do."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "ensure-chromium.sh"


def _path_without_chromium(tmp_path) -> str:
    """A PATH holding only what the script needs besides a browser."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("bash", "env", "id", "cat"):
        (tools / tool).symlink_to(shutil.which(tool))
    return str(tools)


def test_without_chromium_or_a_way_to_install_it_setup_says_what_to_do(tmp_path) -> None:
    env = dict(os.environ, PATH=_path_without_chromium(tmp_path), KIMERA_APT_GET="no-apt-get-here")
    # "python" that cannot run Playwright: as offline, its download fails too
    result = subprocess.run(
        ["bash", str(SCRIPT), "/bin/false"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "Chromium was not found" in result.stderr
    assert "sudo apt-get install -y chromium" in result.stderr
    assert "python -m playwright install chromium" in result.stderr
    assert 'pytest -m "not browser"' in result.stderr


def test_a_chromium_on_path_is_found_and_nothing_is_installed(tmp_path) -> None:
    env = dict(os.environ, KIMERA_APT_GET="no-apt-get-here")
    result = subprocess.run(
        ["bash", str(SCRIPT), "/bin/false"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr  # after `make setup`, Chromium is on PATH
    assert result.stdout.strip() == shutil.which("chromium") and result.stderr == ""


def test_setup_runs_it() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    setup = next(line for line in makefile.splitlines() if line.startswith("setup:"))
    assert ".tools/chromium" in setup.split()
    assert "scripts/ensure-chromium.sh $(PY)" in makefile
