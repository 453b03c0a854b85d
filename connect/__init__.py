"""Connectivity, one module per venue family, shared by the pipelines' sources (market data) and
execution's venues (trading): ``connect.sim`` (the simulator as Kimera configures it)."""
