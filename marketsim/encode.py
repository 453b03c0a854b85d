"""Fast Arrow column builders: hex hashes, decimal text, repeated names, timestamps.

Python-level string formatting costs ~1 µs a value; a year of simulated rows has tens of millions
of strings. These build the character bytes with numpy and hand them to Arrow without copies.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from marketsim.schemas import TS

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# byte -> its two hex characters, laid out so that a uint16 view writes them in reading order
_HEX_PAIRS = np.empty((256, 2), dtype=np.uint8)
_HEX_PAIRS[:, 0] = _HEX[np.arange(256) >> 4]
_HEX_PAIRS[:, 1] = _HEX[np.arange(256) & 15]
_HEX_PAIRS16 = _HEX_PAIRS.view(np.uint16).ravel()
_DIGITS4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), dtype=np.uint8).reshape(-1, 4)
_DIGITS4_32 = _DIGITS4.copy().view(np.uint32).ravel()  # four ASCII digits as one 32-bit word
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


def runs(values: list[str], counts: list[int] | np.ndarray) -> pa.StringArray:
    """``values[i]`` repeated ``counts[i]`` times, one run after the other."""
    encoded = [v.encode() for v in values]
    lengths = np.repeat(np.array([len(e) for e in encoded], dtype=np.int64), counts)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = b"".join(e * int(c) for e, c in zip(encoded, counts, strict=True))
    return pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))


def choose(values: list[str], index: np.ndarray) -> pa.Array:
    """``values[index[i]]`` for each i, as a string column."""
    return pa.array(values, type=pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def decimal_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative ints, zero-padded (``width`` a multiple of 4, <= 20)."""
    v = np.asarray(values, dtype=np.int64)
    out = np.empty((v.shape[0], width), dtype=np.uint8)
    words = out.view(np.uint32)  # one word per group of four digits
    for g in range(width // 4 - 1, -1, -1):
        v, r = np.divmod(v, 10_000)
        words[:, g] = _DIGITS4_32[r]
    return out


def fixed_decimals(values: np.ndarray, width: int) -> pa.StringArray:
    """Non-negative ints as zero-padded decimal text of ``width`` digits (a multiple of 4, <= 16)."""
    return strings_from_matrix(decimal_matrix(values, width))


def minute_ids(first_minute: int, minute: np.ndarray, rank: np.ndarray) -> pa.StringArray:
    """16-digit ids ``1`` + 11-digit minute (``first_minute + minute``) + 4-digit ``rank`` (< 10**4).

    Increasing with time and unique per minute and rank; the minute part is formatted once per minute.
    """
    minutes = int(minute.max(initial=-1)) + 1
    prefix = decimal_matrix(10**11 + first_minute + np.arange(minutes), 12).view(np.uint32)  # (minutes, 3)
    out = np.empty((len(minute), 4), dtype=np.uint32)  # four 4-digit words per id
    out[:, :3] = prefix[minute]
    out[:, 3] = _DIGITS4_32[rank]
    return strings_from_matrix(out.view(np.uint8))


def decimals(values: np.ndarray, trailing_zeros: np.ndarray | int = 0) -> pa.Array:
    """Positive ints (< 1e19) as decimal text, each followed by ``trailing_zeros`` zeros."""
    v = np.asarray(values, dtype=np.int64)
    text = pc.utf8_ltrim(strings_from_matrix(decimal_matrix(v, 20)), characters="0")
    zeros = np.broadcast_to(np.asarray(trailing_zeros, dtype=np.int64), v.shape)
    if not zeros.any():
        return text
    suffixes = np.unique(zeros)
    suffix = choose(["0" * int(z) for z in suffixes], np.searchsorted(suffixes, zeros))
    return pc.binary_join_element_wise(text, suffix, "")


def timestamps(micros: np.ndarray) -> pa.TimestampArray:
    """Naive UTC timestamps from int64 microseconds since 1970-01-01."""
    return pa.array(np.asarray(micros, dtype=np.int64).view("datetime64[us]"), type=TS)
