"""``python -m backtest --from A --to B [--model TAG] [--config FILE] [--seed N] [--json]`` (the
Dagster asset runs this: pipelines never import execution)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from kimera.config import ConfigError

    parser = argparse.ArgumentParser(prog="python -m backtest", description=__doc__)
    parser.add_argument("--from", dest="start", default=None, type=datetime.fromisoformat)
    parser.add_argument("--to", dest="end", default=None, type=datetime.fromisoformat)
    parser.add_argument("--against-journal", default=None, help="A paper/live journal to compare with.")
    parser.add_argument("--model", default=None)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--order-style", choices=("taker", "maker"), default="taker")
    parser.add_argument("--json", action="store_true", help="Print the ml.backtests row as one JSON line.")
    parser.add_argument(
        "--per-bar-features", action="store_true", help="The feature SQL bar by bar (slower)."
    )
    args = parser.parse_args(argv)
    from backtest.cli import backtest_cli

    try:
        backtest_cli(args.start, args.end, args.model, args.config, args.seed, args.order_style, args.json,
                     against_journal=args.against_journal, per_bar_features=args.per_bar_features)  # fmt: skip
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
