"""Building the bento of a model: ``bentoml build`` from the repository, offline.

The bento carries the serving code (``bentofile.yaml``) and the model, pinned with ``--arg
model=TAG`` so that served from the bento (``bentoml serve kimera-forecaster:<version>``, or a
container from ``bentoml containerize``) it serves exactly that model. A bento already built for
the same model and the same (clean) code is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kimera.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent
BENTO_NAME = "kimera-forecaster"
UV_DIR = ROOT / ".tools" / "uv" / "bin"


class BuildFailed(RuntimeError):
    """``bentoml build`` failed or cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class BuiltBento:
    tag: str  # kimera-forecaster:<version>
    model_tag: str
    path: Path
    reused: bool
    seconds: float


def uv_path() -> Path:
    """The ``uv`` binary ``bentoml build`` needs: on PATH, or the one ``make setup`` puts in .tools/uv."""
    found = shutil.which("uv") or (str(UV_DIR / "uv") if (UV_DIR / "uv").is_file() else None)
    if found is None:
        raise BuildFailed(
            "`bentoml build` needs the `uv` binary: run `make setup` (it installs one into .tools/uv "
            "with `pip install --target .tools/uv uv`), or put uv on PATH"
        )
    return Path(found)


def bento_store(settings: Settings):
    from bentoml._internal.bento import BentoStore

    folder = settings.bentoml_home / "bentos"
    folder.mkdir(parents=True, exist_ok=True)
    return BentoStore(str(folder))


def find_bento(model_tag: str, code: str, settings: Settings):
    """A bento of ``model_tag`` built from the same clean code, or None."""
    from bentoml.exceptions import NotFound

    if code.endswith("+dirty"):
        return None  # uncommitted changes: the code may differ from any bento built before
    try:
        bentos = bento_store(settings).list(BENTO_NAME)
    except NotFound:
        return None
    same = [
        b for b in bentos if b.info.labels.get("model") == model_tag and b.info.labels.get("code") == code
    ]
    return max(same, key=lambda b: b.info.creation_time, default=None)


def build_bento(model_tag: str, settings: Settings | None = None) -> BuiltBento:
    """The bento serving ``model_tag``: reused when one exists for the same code, else built."""
    from models.registry import code_version

    settings = settings or get_settings()
    code = code_version()
    started = time.perf_counter()
    existing = find_bento(model_tag, code, settings)
    if existing is not None:
        return BuiltBento(
            str(existing.tag), model_tag, Path(existing.path), True, time.perf_counter() - started
        )
    env = settings.tool_environment()
    env["PATH"] = f"{uv_path().parent}{os.pathsep}{env.get('PATH', '')}"
    command = [
        sys.executable, "-m", "bentoml", "build", str(ROOT), "--bentofile", str(ROOT / "bentofile.yaml"),
        "--arg", f"model={model_tag}", "--label", f"model={model_tag}", "--label", f"code={code}",
        "--output", "tag",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tag = next(
        (line.split("__tag__:", 1)[1].strip() for line in done.stdout.splitlines() if "__tag__:" in line),
        None,
    )
    if done.returncode != 0 or tag is None:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise BuildFailed(f"bentoml build of {model_tag} failed (exit {done.returncode}):\n{tail}")
    bento = bento_store(settings).get(tag)
    return BuiltBento(tag, model_tag, Path(bento.path), False, time.perf_counter() - started)
