"""The demo's accounts: its execution service trades one fund with two strategies and three
followers (one per allocation rule); the summary prints each with its figures, orders and fills, and
the report has an "Accounts and followers" section with the same figures. The same service runs the
cross-chain arbitrage desk on the two simulated chains' ETH pools: the summary has its line and the
report a "Cross-chain arbitrage" section with the same figures.

The paper and report stages run as in ``kimera demo`` (the service is the ``kimera execute``
process the paper stage starts); the signals in between are signed pushes as the serve stage sends.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.app.demo.accounts import FOLLOWERS, LEADER, demo_accounts, demo_config
from kimera.config import load_config
from kimera.settings import Settings, get_settings, prepare_home
from tests.execution.conftest import FAST, SERVICE_KEY_SECRET, signal, write_config
from tests.support.net import free_port


@pytest.fixture
def demo_home(kimera_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The repository's config (fast polls) with the service and paper venues on free ports."""
    service, paper = free_port(), free_port()
    config = write_config(
        tmp_path / "kimera.yaml",
        {
            **FAST,
            "port": service,
            "paper": {**FAST["paper"], "url": f"http://127.0.0.1:{paper}", "port": paper},
        },
    )
    monkeypatch.setenv("KIMERA_CONFIG", str(config))
    monkeypatch.setenv("KIMERA_SECRET_EXECUTION_KEY_LOCAL", SERVICE_KEY_SECRET)
    get_settings.cache_clear()
    return prepare_home(get_settings())


def test_the_demo_config_adds_a_fund_with_two_strategies_and_three_followers_and_leaves_the_users_file(
    demo_home: Settings,
) -> None:
    config = load_config(settings=demo_home)
    before = demo_home.config.read_text()
    derived = load_config(demo_config(demo_home, config), settings=demo_home).execution
    assert demo_home.config.read_text() == before and config.execution.accounts == []
    assert [(s.name, s.account, s.assets) for s in derived.strategies] == [
        ("fund_btc", LEADER, ["BTC"]),
        ("fund_eth", LEADER, ["ETH"]),
    ]
    assert sorted(f.rule for f in derived.followers) == ["equity_fraction", "fixed_notional", "risk_budget"]
    assert {f.leader for f in derived.followers} == {LEADER} and len(derived.accounts) == 4
    # the rest of the execution section is the user's (ports, paper venues, limits)
    assert derived.port == config.execution.port and derived.paper == config.execution.paper
    # the desk watches ETH's pool on each simulated chain, with inventory for its largest trade on both
    arb = derived.arbitrage
    assert arb.venues == ["uniswap_v2_weth_usdc", "pancakeswap_weth_usdc_bsc"]
    assert set(arb.inventory) == {"ethereum", "bsc"}
    for held in arb.inventory.values():
        assert held["ETH"] == arb.max_amount and held["USDT"] == 2 * arb.max_amount * 3200.0
    # its costs are the user's: threshold, largest trade and bridge model unchanged
    assert (arb.min_net_quote, arb.max_amount, arb.bridge) == (
        config.execution.arbitrage.min_net_quote,
        config.execution.arbitrage.max_amount,
        config.execution.arbitrage.bridge,
    )
    # a config that configures accounts itself keeps them, and gets only the desk
    own = yaml.safe_load(demo_home.config.read_text())
    own["execution"].update(demo_accounts(config))
    own["execution"]["accounts"][0]["capital"] = 12_345.0
    demo_home.config.write_text(yaml.safe_dump(own))
    derived = load_config(demo_config(demo_home, load_config(settings=demo_home)), settings=demo_home)
    assert derived.execution.accounts[0].capital == 12_345.0 and derived.execution.arbitrage.venues
    # and one that configures the desk too runs as it is
    own["execution"]["arbitrage"] = {"venues": ["uniswap_v2_weth_usdc", "pancakeswap_weth_usdc_bsc"]}
    demo_home.config.write_text(yaml.safe_dump(own))
    assert demo_config(demo_home, load_config(settings=demo_home)) == demo_home.config.resolve()


@pytest.mark.slow
def test_the_demos_paper_day_trades_every_account_and_the_summary_and_report_show_each(
    demo_home: Settings,
) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from kimera.app.demo.context import DemoContext
    from kimera.app.demo.paper_trading import paper_stage
    from kimera.app.demo.report import report_stage
    from kimera.app.report import build_report, configured_journal
    from kimera.app.report.data import Journal
    from kimera.signing import client_auth

    config = load_config(settings=demo_home)
    url = f"http://127.0.0.1:{config.execution.port}"
    console = Console(file=io.StringIO())
    with Progress(console=console) as progress:
        ctx = DemoContext(demo_home, config, datetime(2026, 1, 1), datetime(2026, 1, 3), progress, console)
        try:
            paper_stage(ctx)
            auth = client_auth(demo_home, "local")
            # four bars of both assets, long then short then long: every book trades each bar
            for i, forecast in enumerate((0.004, -0.004, 0.004, -0.004)):
                for j, asset in enumerate(("BTC", "ETH")):
                    body = signal(
                        10 * i + j,
                        asset,
                        forecast=forecast,
                        width=0.004,
                        feature_time=f"2026-04-01T{i:02d}:00:00",
                    )
                    answer = httpx.post(f"{url}/signals", json=body, auth=auth, timeout=30)
                    assert answer.status_code == 200, answer.text
                    assert {a["account"] for a in answer.json()["accounts"]} == {
                        LEADER,
                        *(f for f, _, _ in FOLLOWERS),
                    }
                _wait_for_no_live_orders(demo_home)
            lines = report_stage(ctx)
        finally:
            ctx.close()
    text = "\n".join(lines)
    figures = r"return [+-]\d+\.\d+ %, Sharpe (-?\d+\.\d+|–), max drawdown [+-]\d+\.\d+ %"
    for who in (
        f"account {LEADER} (ACTIVE)",
        f"strategy fund_btc of {LEADER}",
        f"strategy fund_eth of {LEADER}",
        *(f"follower {name} of account {LEADER} ({rule})" for name, rule, _ in FOLLOWERS),
    ):
        found = re.search(
            rf"  {re.escape(who)}: {figures}(, tracking error \S+)?, (\d+) orders, (\d+) fills", text
        )
        assert found, f"{who!r} not in the summary:\n{text}"
        assert int(found.group(3)) >= 1 and int(found.group(4)) >= 1, found.group(0)  # each one traded
        if who.startswith("follower"):
            assert re.match(r", tracking error \d+\.\d+", found.group(2)), found.group(0)
    page = (demo_home.report_dir / "index.html").read_text()
    assert "Accounts and followers" in page and "GET /accounts" in page
    for name in ("fund_btc", "fund_eth", *(f for f, _, _ in FOLLOWERS)):
        assert f"<td>{name}</td>" in page
    _assert_the_desk_ran_and_is_shown_alike(demo_home, text, page)
    assert "kimera statement --day" in page  # no statements written yet: the page says how

    # once `kimera statement` has written the day's statements, the section links each account's
    with Journal(configured_journal(demo_home)) as journal:
        [(first_fill,)] = journal.reader.rows("SELECT min(at) FROM account_fills")
    day = datetime.fromtimestamp(float(first_fill), UTC).date().isoformat()
    written = CliRunner().invoke(main, ["statement", "--day", day, "--json"])
    assert written.exit_code == 0, written.output
    page = build_report(demo_home).path.read_text()
    statements = json.loads(written.output)
    # one statement per account of the accounts layer, each with that account's own fills
    assert {d["account"] for d in statements} >= {"fund", *(f for f, _, _ in FOLLOWERS)}
    assert all(d["fills"] > 0 for d in statements if d["account"] != "default")
    for d in statements:
        account = d["account"]
        assert f'<a href="../statements/{account}/{day}.html">{account} {day}</a>' in page


def _assert_the_desk_ran_and_is_shown_alike(settings: Settings, text: str, page: str) -> None:
    """The desk priced both chains' pools in the paper stage; its summary line, the report's section
    and the saved ``GET /reports/arbitrage`` say the same; nothing taken means the widest gap was
    below its cost floor, and anything taken had both legs filled."""
    import html

    from kimera.app.report.arbitrage_section import line, load_snapshot

    desk = load_snapshot(settings.report_dir)
    assert desk is not None and desk["enabled"], "no arbitrage snapshot beside the report"
    found = re.search(
        r"  cross-chain arbitrage \(bsc vs ethereum, paper\): (\d+) looks, (\d+) opportunities seen, "
        r"(\d+) taken, net P&L ([+-][\d,]+\.\d\d) after fees, gas and bridge; (.*)",
        text,
    )
    assert found, f"no arbitrage line in the summary:\n{text}"
    looks, seen, taken = (int(found.group(i)) for i in (1, 2, 3))
    assert looks >= 1 and (looks, seen, taken) == (desk["looks"], desk["opportunities_seen"], desk["taken"])
    assert float(found.group(4).replace(",", "")) == pytest.approx(desk["realised_net"], abs=0.005)
    widest = desk["widest_gap"]
    assert widest is not None and widest["asset"] == "ETH"  # it priced both chains' pools
    # the floor: both pools' fees (30 + 25 bp), the bridge's 5 bp, and 15 quote of gas (5 a swap) and
    # bridge (5) over the largest trade, 10 ETH at the pool's mid (ETH between 2,500 and 4,000)
    assert 60 + 15 / 40_000 * 1e4 < widest["cost_floor_bps"] < 60 + 15 / 25_000 * 1e4
    if taken == 0:
        assert widest["gap_bps"] < widest["cost_floor_bps"] and seen == 0
        assert found.group(5).startswith(
            f"0 taken: best gap {widest['gap_bps']:.1f} bp (ETH {widest['buy_chain']}->"
            f"{widest['sell_chain']}) < costs {widest['cost_floor_bps']:.1f} bp"
        ), found.group(5)
    else:
        assert found.group(5).startswith("bridge plan: ")
        for t in desk["trades"]:
            assert t["legs"]["buy"]["state"] == t["legs"]["sell"]["state"] == "filled"
    assert "Cross-chain arbitrage" in page and html.escape(line(desk)) in page


def _wait_for_no_live_orders(settings: Settings, timeout: float = 60.0) -> None:
    from kimera.app.report import configured_journal
    from kimera.app.report.data import Journal

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Journal(configured_journal(settings)) as journal:
            if journal.live_orders() == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"orders still live after {timeout:.0f} s")
