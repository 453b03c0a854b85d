"""Backtests through the live loop and an in-process execution path (layer 3: may import live,
execution, models, connect and the foundation). ``python -m backtest`` runs one (the Dagster asset
starts it as a subprocess, since pipelines never import execution)."""
