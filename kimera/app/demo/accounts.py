"""The demo's accounts: one fund running two strategies on the served model, copied by three
followers, one per allocation rule (docs/accounts.md).

The user's ``kimera.yaml`` is left as it is: the demo writes a derived copy under
``KIMERA_HOME/demo/kimera.yaml`` with these accounts in its ``execution`` section, and starts its
execution service on that copy. A config that configures accounts itself is used unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kimera.config import KimeraConfig, load_config
from kimera.settings import Settings

LEADER = "fund"
# (follower, rule, value): a fraction of its equity, a fixed notional, a share of its risk budget
FOLLOWERS = (
    ("copy_equity", "equity_fraction", 0.5),
    ("copy_fixed", "fixed_notional", 10_000.0),
    ("copy_risk", "risk_budget", 0.5),
)
FOLLOWER_CAPITAL = 20_000.0


def demo_accounts(config: KimeraConfig) -> dict[str, Any]:
    """The ``execution`` keys (accounts, strategies, followers) of the demo's service.

    The fund has the configured capital and risk limits; its two strategies share it 60/40 and
    split the assets between them (every other asset), so both trade on the served model's signals
    with different sizing; the three followers copy the whole fund with a fifth of its capital.
    """
    ex = config.execution
    assets = [a.symbol for a in config.assets]
    split = [assets[0::2], assets[1::2]] if len(assets) > 1 else [assets]
    shares, aversion = (0.6, 0.4), (ex.sizing.risk_aversion, ex.sizing.risk_aversion * 2)
    strategies = [
        {
            "name": f"{LEADER}_{'_'.join(a.lower() for a in group)}",
            "account": LEADER,
            "assets": group,
            "capital_share": shares[i] if len(split) > 1 else 1.0,
            "sizing": {**ex.sizing.model_dump(mode="json"), "risk_aversion": aversion[i]},
        }
        for i, group in enumerate(split)
    ]
    limits = ex.risk.model_dump(mode="json")
    fund = {
        "name": LEADER,
        "capital": ex.sizing.capital,
        "risk": limits,
        "portfolio": {
            "max_gross_notional": 2 * ex.sizing.capital,
            "max_net_notional": 2 * ex.sizing.capital,
            "max_correlated_notional": 2 * ex.sizing.capital,
        },
    }
    scale = FOLLOWER_CAPITAL / ex.sizing.capital
    follower_risk = {
        **limits,
        "max_order_notional": limits["max_order_notional"] * scale,
        "max_position_notional": limits["max_position_notional"] * scale,
    }
    followers = [
        {"name": name, "capital": FOLLOWER_CAPITAL, "risk": follower_risk} for name, _, _ in FOLLOWERS
    ]
    return {
        "accounts": [fund, *followers],
        "strategies": strategies,
        "followers": [
            {"follower": name, "leader": LEADER, "leader_kind": "account", "rule": rule, "value": value}
            for name, rule, value in FOLLOWERS
        ],
    }


def demo_config(settings: Settings, config: KimeraConfig) -> Path:
    """The config file the demo's execution service runs on: the user's own when it configures
    accounts, strategies or followers and the arbitrage desk (or has no asset on two chains), else a
    derived copy with :func:`demo_accounts` and the desk of
    :func:`~kimera.app.demo.arbitrage.demo_arbitrage` (validated before it is written, and written
    whole)."""
    from kimera.app.demo.arbitrage import demo_arbitrage

    source = settings.config.expanduser().resolve()
    ex = config.execution
    added: dict[str, Any] = {}
    if not (ex.accounts or ex.strategies or ex.followers):
        added.update(demo_accounts(config))
    desk = demo_arbitrage(config)
    if desk is not None:
        added["arbitrage"] = desk
    if not added:
        return source
    data = yaml.safe_load(source.read_text()) or {}
    section = data.get("execution") or {}
    data["execution"] = {**section, **added}
    folder = settings.home_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kimera.yaml"
    partial = folder / "kimera.yaml.partial"
    partial.write_text(
        "# Written by `kimera demo` from " + str(source)
        + " with the demo's accounts and arbitrage desk (kimera/app/demo/accounts.py, arbitrage.py)\n"
        + yaml.safe_dump(data, sort_keys=False)
    )  # fmt: skip
    load_config(partial, settings=settings)  # a derived config that does not load is never used
    partial.replace(path)
    return path


def fetch_accounts(settings: Settings, config: KimeraConfig) -> dict[str, Any] | str:
    """``GET /accounts`` of the execution service, signed with the client key; else a sentence
    saying why there are no figures (no service answers, or it runs without accounts)."""
    return fetch_json(settings, config, "/accounts")


def fetch_json(settings: Settings, config: KimeraConfig, path: str) -> dict[str, Any] | str:
    """``GET path`` of the execution service, signed with the client key, as JSON; else a sentence
    saying why not (no key, no service, or its answer)."""
    import httpx

    from kimera.signing import MissingKey, client_auth

    ex = config.execution
    url = f"http://{ex.host}:{ex.port}{path}"
    try:
        auth = client_auth(settings, ex.auth.client_key)
        answer = httpx.get(url, auth=auth, timeout=10.0)
    except MissingKey as exc:
        return f"cannot sign GET {path}: {exc}"
    except httpx.HTTPError as exc:
        return f"no execution service answers at {url} ({type(exc).__name__})"
    if answer.status_code != 200:
        return f"GET {path} answered {answer.status_code}: {answer.text[:200]}"
    return answer.json()
