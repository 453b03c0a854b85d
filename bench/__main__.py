"""``python -m bench [NAMES] [--json] [--quick]``: the same as ``kimera bench``."""

from __future__ import annotations

import argparse
import sys

import bench


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Kimera benchmarks in one table.")
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default all: {', '.join(bench.available())})"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line and measure")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args()
    sys.exit(bench.main(args.names, as_json=args.json, quick=args.quick))


if __name__ == "__main__":
    _main()
