"""``make ui`` in a real browser: ``dagster dev`` renders the lineage raw → dbt (→ models → bento →
signals where the code location has them) and the asset checks; screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Domains in the order data flows; a domain whose package exists in the repository must be drawn.
FLOW = ("ingest", "features", "ml", "serving", "signals")
TIMEOUT_MS = 60_000

ASSETS = """{ assetNodes { assetKey { path } groupName dependencyKeys { path }
  assetChecksOrError { ... on AssetChecks { checks { name } } } } }"""


def _groups_in_repository() -> list[str]:
    return [g for g in FLOW if (REPO_ROOT / "pipelines" / g / "definitions.py").exists()]


def _asset_graph(url: str) -> list[dict]:
    body = httpx.post(f"{url}/graphql", json={"query": ASSETS}, timeout=60).json()
    return body["data"]["assetNodes"]


def test_the_lineage_and_the_checks_render(dagster_ui: str, browser_page, artifacts: Path) -> None:
    nodes = _asset_graph(dagster_ui)
    group_of = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
    flow = _groups_in_repository()
    assert flow[:2] == ["ingest", "features"]
    # The data behind the picture: each domain reads the one before it.
    for upstream, downstream in zip(flow, flow[1:], strict=False):
        edges = {
            (group_of.get("/".join(d["path"])), n["groupName"]) for n in nodes for d in n["dependencyKeys"]
        }
        assert (upstream, downstream) in edges, f"no asset of {downstream!r} reads one of {upstream!r}"

    page = browser_page
    # Global lineage: one box per domain, drawn in the graph (an SVG), not only in the sidebar.
    page.goto(f"{dagster_ui}/asset-groups", wait_until="domcontentloaded")
    graph = page.locator("svg foreignObject")
    for group in flow:
        graph.get_by_text(group, exact=True).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.get_by_text("Join the Dagster community").count() == 0  # setNuxSeen took
    page.screenshot(path=str(artifacts / "dagster-global-lineage.png"))

    # Asset lineage, raw → dbt staging → intermediate → mart, two small graphs drawn at full size
    # (a zoomed-out graph shortens long names).
    for asset, names in (
        (
            "intermediate/int_venue_bars_resampled",
            ("exchange_ohlcv", "stg_exchange__candles", "int_venue_bars_resampled"),
        ),
        ("marts/labels", ("int_venue_bars_resampled", "int_bars_consolidated", "labels")),
    ):
        page.goto(
            f"{dagster_ui}/assets/{asset}?view=lineage&lineageScope=upstream&lineageDepth=2",
            wait_until="domcontentloaded",
        )
        for name in names:
            graph.get_by_text(name, exact=True).first.wait_for(state="visible", timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts / f"dagster-lineage-{asset.replace('/', '-')}.png"))

    # The checks of a raw table and of the features mart, listed on their Checks tabs.
    checks = {
        "/".join(n["assetKey"]["path"]): [c["name"] for c in n["assetChecksOrError"].get("checks", [])]
        for n in nodes
    }
    assert checks["raw/exchange_ohlcv"], "raw/exchange_ohlcv has no asset checks"
    for asset in ("raw/exchange_ohlcv", "marts/features"):
        page.goto(f"{dagster_ui}/assets/{asset}?view=checks", wait_until="domcontentloaded")
        page.get_by_text(f"Checks ({len(checks[asset])})").wait_for(state="visible", timeout=TIMEOUT_MS)
        for name in checks[asset][:3]:  # long names are shortened in the middle; the title holds them whole
            page.locator(f'[title="{name}"]').first.wait_for(state="visible", timeout=TIMEOUT_MS)
        page.screenshot(path=str(artifacts / f"dagster-checks-{asset.replace('/', '-')}.png"))
