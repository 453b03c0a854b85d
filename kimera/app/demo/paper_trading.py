"""The demo's paper stage: start the execution service (``kimera execute``) and its paper venues.

The service runs as its own process for the rest of the demo, so the serve stage's signals are
sized, risk-checked, routed and filled against the simulator's books; the report stage reads its
journal, and the demo stops it at the end (or on Ctrl-C). The paper venues' market starts where the
served model's training data ends, so the serve stage can paper-trade the day the model never saw.
Nothing here imports ``execution/``.
"""

from __future__ import annotations

import os
import secrets
import sys

from kimera.app.demo.accounts import demo_config
from kimera.app.demo.context import DemoContext
from kimera.app.demo.train import paper_start
from kimera.signing import new_secret, secret_name

VIEW_TOKEN_ENV = "KIMERA_SECRET_EXECUTION_VIEW_TOKEN"


def paper_stage(ctx: DemoContext) -> list[str]:
    """Start paper venues and the execution service on the configured ports (or reuse running ones)."""
    cfg = ctx.config.execution
    url = f"http://{cfg.host}:{cfg.port}"
    env = ctx.settings.tool_environment()
    # the service trades the demo's accounts: a fund with two strategies and three followers
    env["KIMERA_CONFIG"] = str(demo_config(ctx.settings, ctx.config))
    given = ctx.settings.secret("execution_view_token") is not None
    if not given:  # a token for this run only, so the summary can print the status page's URL
        env[VIEW_TOKEN_ENV] = secrets.token_urlsafe(32)
    made = _demo_api_keys(ctx, env)
    task = ctx.progress.add_task("  execution service and paper venues", total=1)
    # The paper market starts where the served model's training data ends (kimera/app/demo/train.py), so
    # the serve stage can replay the held-out day bar by bar; `kimera execute` finds it running.
    start = paper_start(ctx.end)
    paper = ctx.services.start(
        "paper venue server",
        [
            sys.executable,
            "-m",
            "execution.venues.server",
            "--port",
            str(cfg.paper.port),
            "--start",
            start.isoformat(),
        ],
        f"{cfg.paper.url.rstrip('/')}/ping",
        env,
        ctx.settings.home_dir / "logs" / "paper-venues.log",
    )
    if paper.process is not None:
        ctx.paper_clock_url = cfg.paper.url.rstrip("/")
    service = ctx.services.start(
        "execution service",
        [sys.executable, "-m", "kimera", "execute", "--port", str(cfg.port)],
        f"{url}/healthz",
        env,
        ctx.settings.home_dir / "logs" / "execution.log",
    )
    ctx.progress.update(task, completed=1)
    if service.process is None:
        return [f"paper: an execution service already answers at {url}; signals go there"]
    token = "<your execution_view_token>" if given else env[VIEW_TOKEN_ENV]
    ctx.status_url = f"{url}/status?view={token}"
    lines = [
        f"paper: execution service on {url} with paper venues on {cfg.paper.url} "
        f"(market from {start:%Y-%m-%d %H:%M} UTC; log {service.log}); it stops when the demo ends"
    ]
    if made:
        lines.append(
            f"  API key(s) {', '.join(made)} made for this run only (keep one with `kimera keys new <id>`, docs/security.md)"
        )
    return lines


def _demo_api_keys(ctx: DemoContext, env: dict[str, str]) -> list[str]:
    """A random secret for each configured API key that has none, for this run only.

    ``kimera execute`` refuses to start without them, and the signals asset signs its pushes with
    the client key, so the secret goes to the service's environment and to this process's (where
    :meth:`Settings.secret` finds it); it is never written to disk or printed.
    """
    made = []
    for key_id in ctx.config.execution.auth.keys:
        if ctx.settings.secret(secret_name(key_id)) is None:
            name = f"KIMERA_SECRET_{secret_name(key_id).upper()}"
            env[name] = os.environ[name] = new_secret()
            ctx.exported.append(name)  # the demo unsets it when it ends
            made.append(key_id)
    return made
