"""``kimera ui`` / ``make ui``: ``dagster dev`` on the project, its instance under KIMERA_HOME."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kimera.settings import get_settings, prepare_home

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_ui(host: str = "127.0.0.1", port: int = 3000) -> None:
    """Replace this process with ``dagster dev`` on the code location, instance under KIMERA_HOME/dagster."""
    settings = prepare_home(get_settings())
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    env = settings.tool_environment()
    # dagster dev runs from the repository root: pass the config by absolute path.
    env["KIMERA_CONFIG"] = str(settings.config.expanduser().resolve())
    print(
        f"Dagster UI on http://{host}:{port}  (instance: {settings.dagster_home}; Ctrl-C stops it)",
        flush=True,
    )
    # exec so that Ctrl-C and SIGTERM reach dagster directly.
    os.chdir(REPO_ROOT)
    os.execve(sys.executable, cmd, env)
