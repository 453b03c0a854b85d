"""The execution service: signals -> sizing -> pre-trade risk -> smart order router -> order manager -> venues.

Nothing imports this package but its tests, the CLI and the benchmarks. See ``docs/execution.md``.
"""
