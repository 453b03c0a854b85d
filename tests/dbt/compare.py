"""Comparing tables of two warehouses row by row (keys exactly, NULLs exactly, numbers to float noise)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

# DuckDB aggregates in parallel, so the same rows can add up in another order and the last bit of a
# sum may differ; differences of nearby logs (returns, basis in bps) scale that up to ~1e-11. A leak
# or a missed row changes values by many orders of magnitude more.
RTOL = 1e-9
ATOL = 1e-9


def read_table(home: Path, table: str, keys: list[str], where: str = "true") -> pd.DataFrame:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        frame = con.execute(f"select * from {table} where {where} order by {', '.join(keys)}").df()
    return frame.reset_index(drop=True)


def assert_same_rows(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], what: str) -> None:
    """Same keys in the same order, same NULLs, numbers equal to RTOL; names the first difference."""
    assert list(left.columns) == list(right.columns), f"{what}: columns differ"
    assert len(left) == len(right), f"{what}: {len(left)} rows vs {len(right)}"
    pd.testing.assert_frame_equal(left[keys], right[keys], check_dtype=False, obj=f"{what} keys")
    for column in left.columns.difference(keys):
        a, b = left[column], right[column]
        if not pd.api.types.is_float_dtype(a):
            pd.testing.assert_series_equal(a, b, check_dtype=False, obj=f"{what}.{column}")
            continue
        a, b = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
        null_a, null_b = np.isnan(a), np.isnan(b)
        differ = (null_a != null_b) | ~(null_a | np.isclose(a, b, rtol=RTOL, atol=ATOL))
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            row = left.loc[i, keys].to_dict()
            raise AssertionError(
                f"{what}.{column} differs at {row}: {a[i]!r} vs {b[i]!r} ({differ.sum()} rows)"
            )
