"""Every form a leaked secret could take in a file or a log: as written, base64 (standard and
URL-safe, at any alignment inside a longer encoded text), hex (either case), URL-encoded, and, for
a hex secret such as a wallet key, its raw bytes. A grep for the plain text alone misses a secret
written as an HTTP basic-auth header, a JWT, a hex dump or a query string."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, quote_plus

_ANY_CASE = {"hex", "HEX", "url-encoded (every byte)"}  # hex digits may be written in either case
_MIN_FRAGMENT = 8  # shorter encoded fragments would match ordinary data by chance


def _base64_fragments(raw: bytes) -> set[bytes]:
    """The part of base64(prefix + raw + suffix) fixed by ``raw`` alone, for each of the 3 alignments."""
    fragments = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        first = -(-8 * offset // 6)  # first character whose 6 bits all come from ``raw``
        last = 8 * (offset + len(raw)) // 6  # one past the last such character
        fragment = encoded[first:last]
        fragments |= {fragment, fragment.replace(b"+", b"-").replace(b"/", b"_")}
    return {f for f in fragments if len(f) >= _MIN_FRAGMENT}


def encoded_forms(secret: str) -> dict[str, bytes]:
    """``{form: bytes to look for}`` for one secret (forms equal to the plain text are left out)."""
    raw = secret.encode()
    forms: dict[str, bytes] = {"plain": raw}
    for i, fragment in enumerate(sorted(_base64_fragments(raw))):
        forms[f"base64 #{i}"] = fragment
    forms["hex"] = raw.hex().encode()
    forms["HEX"] = raw.hex().upper().encode()
    forms["url-encoded"] = quote(secret, safe="").encode()
    forms["form-encoded"] = quote_plus(secret).encode()
    forms["url-encoded (every byte)"] = "".join(f"%{b:02X}" for b in raw).encode()
    bare = secret.removeprefix("0x")
    if len(bare) >= 16 and re.fullmatch(r"(?:[0-9a-fA-F]{2})+", bare):
        forms["raw bytes of the hex"] = bytes.fromhex(bare)
        forms.update(
            {
                f"base64 of the raw bytes #{i}": f
                for i, f in enumerate(sorted(_base64_fragments(bytes.fromhex(bare))))
            }
        )
    unique: dict[str, bytes] = {}
    for name, value in forms.items():
        if name == "plain" or value != raw:
            unique.setdefault(name, value)
    return unique


def find_secret(data: bytes, secret: str) -> str | None:
    """The name of the first form of ``secret`` found in ``data`` (None when there is none)."""
    lowered = data.lower()
    for form, needle in encoded_forms(secret).items():
        if needle in data or (form in _ANY_CASE and needle.lower() in lowered):
            return form
    return None
