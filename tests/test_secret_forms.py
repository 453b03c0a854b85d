"""The secret grep finds a secret however it was written: plain, base64, hex or URL-encoded."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import pytest

from tests.support.secret_forms import find_secret

SECRET = "kimera-signing-secret-0c4e2a9d1b7f4e3a8c6d5b2f"
WALLET = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.mark.parametrize("prefix", ["", "a", "ab", "user:"])  # every base64 alignment
def test_base64_inside_a_longer_text_is_found(prefix: str) -> None:
    header = b"Authorization: Basic " + base64.b64encode(f"{prefix}{SECRET}:x".encode())
    assert find_secret(header, SECRET) is not None
    assert find_secret(base64.urlsafe_b64encode(f"{prefix}{SECRET}".encode()), SECRET) is not None


@pytest.mark.parametrize(
    "written",
    [
        SECRET.encode(),
        SECRET.encode().hex().encode(),
        SECRET.encode().hex().upper().encode(),
        f"GET /x?{urlencode({'key': SECRET + ' /+'})}".encode(),
        quote(SECRET + "&").encode(),
        json.dumps({"secret": "".join(f"%{b:02x}" for b in SECRET.encode())}).encode(),
    ],
    ids=["plain", "hex", "HEX", "query string", "url-encoded", "every byte escaped"],
)
def test_plain_hex_and_url_encoded_forms_are_found(written: bytes) -> None:
    assert find_secret(b"log line: " + written + b" end", SECRET + (" /+" if b"key=" in written else ""))


def test_a_wallet_key_is_found_as_raw_bytes_in_a_binary_file() -> None:
    blob = b"SQLite format 3\0" + bytes.fromhex(WALLET[2:]) + b"\0\0"
    assert find_secret(blob, WALLET) == "raw bytes of the hex"
    assert find_secret(b"k=" + base64.b64encode(bytes.fromhex(WALLET[2:])), WALLET) is not None


def test_unrelated_data_is_not_taken_for_a_secret() -> None:
    noise = base64.b64encode(bytes(range(256)) * 8) + bytes(range(256)).hex().encode()
    assert find_secret(noise, SECRET) is None and find_secret(noise, WALLET) is None
