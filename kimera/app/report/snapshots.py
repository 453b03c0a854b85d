"""JSON snapshots kept beside the report (a service's answer at the time the report was made),
each written whole: a reader never sees half a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save(report_dir: Path, name: str, data: dict[str, Any]) -> Path:
    """Write ``data`` to ``report_dir/name`` through a partial file renamed into place."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / name
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True))
    partial.replace(path)
    return path


def load(report_dir: Path, name: str) -> dict[str, Any] | None:
    """The snapshot ``report_dir/name``, or None when none was saved."""
    path = report_dir / name
    return json.loads(path.read_text()) if path.exists() else None
