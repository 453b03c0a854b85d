"""Counter-based randomness: every draw is a pure function of (seed, stream name, keys).

Two kinds, both independent of the order in which anything is asked for:

* :func:`generator` -- a numpy ``Generator`` (Philox) for one stream and one chunk (e.g. one
  venue's trades on one day), seeded through ``SeedSequence(seed, spawn_key=...)``;
* :func:`hash_uniform` / :func:`hash_words` -- a vectorised splitmix64 hash of integer counters,
  for values that must be computable one at a time (a book at any instant, a block's hash).
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_MASK64 = (1 << 64) - 1


def name_key(name: str) -> int:
    """A stable 32-bit key for a name (asset symbol, venue id, pool address, stream name)."""
    return zlib.crc32(name.encode())


def generator(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """The numpy generator of ``stream`` for ``keys`` (non-negative ints, e.g. a name key and a day)."""
    sequence = np.random.SeedSequence(seed, spawn_key=(name_key(stream), *keys))
    return np.random.Generator(np.random.Philox(sequence))


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise on uint64 (wraps modulo 2**64 by design)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def _mix_int(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def stream_key(seed: int, stream: str, *keys: int) -> np.uint64:
    """A 64-bit key for a hashed stream."""
    h = _mix_int(seed & _MASK64)
    for part in (name_key(stream), *keys):
        h = _mix_int(h ^ (part & _MASK64))
    return np.uint64(h)


def hash_words(key: np.uint64, counters: np.ndarray) -> np.ndarray:
    """64 pseudo-random bits per counter (uint64 array of ``counters``' shape)."""
    c = np.asarray(counters).astype(np.uint64, copy=False)
    return _mix(_mix(c) ^ key)


def hash_uniform(key: np.uint64, counters: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1), one per counter."""
    return (hash_words(key, counters) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
