"""Exact AMM math: what a pool contract computes, in integers."""
