"""Fast Arrow column builders: hex hashes, decimal text, repeated names, timestamps.

Python-level string formatting costs ~1 µs a value; a year of simulated rows has tens of millions
of strings. These build the character bytes with numpy and hand them to Arrow without copies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from marketsim.schemas import TS

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# byte -> its two hex characters, laid out so that a uint16 view writes them in reading order
_HEX_PAIRS = np.empty((256, 2), dtype=np.uint8)
_HEX_PAIRS[:, 0] = _HEX[np.arange(256) >> 4]
_HEX_PAIRS[:, 1] = _HEX[np.arange(256) & 15]
_HEX_PAIRS16 = _HEX_PAIRS.view(np.uint16).ravel()
_DIGITS4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), dtype=np.uint8).reshape(-1, 4)
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def strings_from_matrix(chars: np.ndarray) -> pa.StringArray:
    """One string per row of an (n, width) uint8 array of ASCII characters."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def hex_strings(words: np.ndarray, nbytes: int) -> pa.StringArray:
    """``0x`` + the first ``nbytes`` big-endian bytes of each row of uint64 ``words`` (n, k), in hex."""
    words = np.ascontiguousarray(words, dtype=">u8")
    raw = words.view(np.uint8).reshape(words.shape[0], -1)[:, :nbytes]
    out = np.empty((words.shape[0], 2 + 2 * nbytes), dtype=np.uint8)
    out[:, 0] = ord("0")
    out[:, 1] = ord("x")
    out[:, 2:].view(np.uint16)[:] = _HEX_PAIRS16[raw]
    return strings_from_matrix(out)


def repeat(value: str, n: int) -> pa.StringArray:
    """``value`` repeated ``n`` times."""
    encoded = np.frombuffer(value.encode(), dtype=np.uint8)
    return strings_from_matrix(np.broadcast_to(encoded, (n, len(encoded))))


def choose(values: list[str], index: np.ndarray) -> pa.Array:
    """``values[index[i]]`` for each i, as a string column."""
    return pa.array(values, type=pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def fixed_decimals(values: np.ndarray, width: int) -> pa.StringArray:
    """Non-negative ints as zero-padded decimal text of ``width`` digits (a multiple of 4, <= 16)."""
    v = np.asarray(values, dtype=np.int64)
    groups = width // 4
    out = np.empty((v.shape[0], width), dtype=np.uint8)
    for g in range(groups - 1, -1, -1):
        v, r = np.divmod(v, 10_000)
        out[:, 4 * g : 4 * g + 4] = _DIGITS4[r]
    return strings_from_matrix(out)


def decimals(values: np.ndarray, trailing_zeros: np.ndarray | int = 0) -> pa.StringArray:
    """Positive ints (< 1e19) as decimal text, each followed by ``trailing_zeros`` zeros."""
    v = np.asarray(values, dtype=np.int64)
    n = v.shape[0]
    zeros = np.broadcast_to(np.asarray(trailing_zeros, dtype=np.int64), (n,))
    max_zeros = int(zeros.max()) if n else 0
    digits = np.searchsorted(_POW10, v, side="right")  # number of decimal digits (v >= 1)
    out = np.empty((n, 20 + max_zeros), dtype=np.uint8)
    out[:, 20:] = ord("0")
    rest = v
    for g in range(4, -1, -1):
        rest, r = np.divmod(rest, 10_000)
        out[:, 4 * g : 4 * g + 4] = _DIGITS4[r]
    columns = np.arange(20 + max_zeros)
    keep = (columns >= 20 - digits[:, None]) & (columns < 20 + zeros[:, None])
    lengths = digits + zeros
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out[keep]))


def timestamps(micros: np.ndarray) -> pa.TimestampArray:
    """Naive UTC timestamps from int64 microseconds since 1970-01-01."""
    return pa.array(np.asarray(micros, dtype=np.int64).view("datetime64[us]"), type=TS)
