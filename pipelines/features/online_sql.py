"""dbt's own feature SQL, compiled once into per-bar templates that the live loop runs online.

The online features of ``kimera live`` have no formula of their own: they are ``marts.features``
and every model it is built from, compiled by dbt from ``dbt_project/`` in incremental mode for a
one-bar window, and re-run by the loop on its in-memory buffer each time a bar closes. One
definition per formula and parameter, by construction.

dbt writes the window into the compiled SQL only as ``timestamp '...'`` literals derived from the
window's start (``incremental_window``), all a whole number of bars from it. A template compiled
for the anchor window ``[anchor, anchor + bar)`` therefore becomes the SQL of any other bar's
window by shifting each literal by the same whole number of bars (``live.sql_window``); a test
holds that equal to dbt compiling the other window itself.

:func:`compile_online_features` writes a folder the loop reads (``live.features``):
``template.duckdb`` (an empty warehouse with raw tables, staging views and the models' empty
tables, all named as dbt names them) and ``models.json`` (the incremental models in dependency
order with their template SQL).
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from kimera.config import TIMEFRAME_SECONDS, KimeraConfig
from pipelines.features.dbt_cli import run_dbt
from pipelines.features.project import DBT_PROJECT_DIR, dbt_vars
from pipelines.warehouse import ensure_raw_schema

FORMAT = 3  # 2: each model lists its raw inputs (a bar without their rows skips it); 3: and the
# incremental models it reads (the online buffer runs independent ones at once)
TARGET_MODEL = "features"


def online_vars(config: KimeraConfig, anchor: datetime, window_bars: int = 1) -> dict[str, Any]:
    """dbt vars of the window ``[anchor, anchor + window_bars * bar)`` (one bar for the live loop; a
    chunk of bars for a backtest). ``lookback_bars`` is 0: the loop closes bars in order with all
    their data in, so there is no late data to rebuild for."""
    bar = timedelta(seconds=TIMEFRAME_SECONDS[config.features.bar])
    return dbt_vars(config, (anchor, anchor + window_bars * bar)) | {"lookback_bars": 0}


def project_fingerprint(config: KimeraConfig, project_dir: Path = DBT_PROJECT_DIR) -> str:
    """What the templates depend on: every file of the dbt project and the vars (a changed formula
    or parameter means compiling again)."""
    import hashlib

    digest = hashlib.sha256(json.dumps(dbt_vars(config), sort_keys=True).encode())
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if path.is_file() and path.suffix in {".sql", ".yml"} and relative.parts[0] != "target":
            digest.update(str(relative).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compile_online_features(
    config: KimeraConfig,
    out_dir: Path,
    anchor: datetime | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
    window_bars: int = 1,
) -> Path:
    """Compile the feature models into ``out_dir`` (reused when the project and vars are unchanged).

    ``window_bars`` > 1 compiles a window of that many bars (the backtest's chunked features).

    Two dbt commands on a scratch warehouse: ``run`` (the empty tables that incremental SQL reads
    as ``this``), then ``compile`` of the anchor window. Returns ``out_dir``.
    """
    fingerprint = project_fingerprint(config, project_dir)
    manifest_path = out_dir / "models.json"
    if manifest_path.exists():
        existing = json.loads(manifest_path.read_text())
        same_window = existing.get("window_bars", 1) == window_bars
        if existing.get("fingerprint") == fingerprint and existing.get("format") == FORMAT and same_window:
            return out_dir
    bar_s = TIMEFRAME_SECONDS[config.features.bar]
    anchor = anchor or config.start_time
    if anchor.timestamp() % bar_s:
        raise ValueError(f"anchor {anchor} is not on the {config.features.bar} bar grid")
    scratch = out_dir / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    with duckdb.connect(str(scratch / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
    select = ["--select", f"+{TARGET_MODEL}"]
    if window_bars < 1:
        raise ValueError(f"window_bars must be a positive number of bars, got {window_bars}")
    variables = online_vars(config, anchor, window_bars)
    run_dbt(["run", *select], home=scratch, dbt_vars=variables, project_dir=project_dir)
    target = scratch / "dbt" / "target"
    run_dbt(["compile", *select], home=scratch, dbt_vars=variables, project_dir=project_dir)
    models = incremental_models(json.loads((target / "manifest.json").read_text()))
    shutil.copy2(scratch / "warehouse.duckdb", out_dir / "template.duckdb")
    document = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "bar_seconds": bar_s,
        "anchor": anchor.isoformat(sep=" "),
        "window_bars": window_bars,
        "target": models[-1]["relation"],
        "models": models,
    }
    manifest_path.write_text(json.dumps(document, indent=1))
    shutil.rmtree(scratch, ignore_errors=True)
    return out_dir


def incremental_models(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The incremental models upstream of (and including) ``features``, dependencies first, with
    their compiled SQL; views need nothing per bar (the template database holds them)."""
    nodes = manifest["nodes"]
    by_name = {n["name"]: uid for uid, n in nodes.items() if n["resource_type"] == "model"}
    ordered: list[str] = []

    def visit(uid: str) -> None:
        if uid in ordered or uid not in nodes:
            return
        for parent in nodes[uid]["depends_on"]["nodes"]:
            visit(parent)
        ordered.append(uid)

    visit(by_name[TARGET_MODEL])

    def raw_inputs(uid: str) -> list[str] | None:
        """The raw tables ``uid`` reads through views; None when it reads another model's table."""
        found: set[str] = set()
        for parent in nodes[uid]["depends_on"]["nodes"]:
            if parent in manifest.get("sources", {}):
                found.add(manifest["sources"][parent]["name"])
            elif parent in nodes and nodes[parent]["resource_type"] == "model":
                if nodes[parent]["config"]["materialized"] in ("incremental", "table"):
                    return None
                upstream = raw_inputs(parent)
                if upstream is None:
                    return None
                found.update(upstream)
        return sorted(found)

    def upstream(uid: str) -> set[str]:
        """The incremental models ``uid`` reads, directly or through views."""
        found: set[str] = set()
        for parent in nodes[uid]["depends_on"]["nodes"]:
            if parent in nodes and nodes[parent]["resource_type"] == "model":
                if nodes[parent]["config"]["materialized"] == "incremental":
                    found.add(nodes[parent]["name"])
                else:
                    found |= upstream(parent)
        return found

    models = []
    for uid in ordered:
        node = nodes[uid]
        config = node["config"]
        if config["materialized"] != "incremental":
            continue
        models.append(
            {
                "name": node["name"],
                "relation": node["relation_name"],
                "sql": node["compiled_code"],
                "window_column": config.get("window_column") or "bar_time",
                "window_to_newest": bool(config.get("window_to_newest", False)),
                "widen_bars": int(config.get("window_widen_bars") or 0),
                "raw_inputs": raw_inputs(uid),
                "upstream": sorted(upstream(uid)),
            }
        )
    return models
