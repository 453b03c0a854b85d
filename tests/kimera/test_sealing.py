"""Sealed secrets: useless without the operator key, opened in memory only, refused when altered or renamed."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from kimera.app.cli import main
from kimera.sealing import OperatorKey, SealError, seal
from kimera.settings import get_settings

WALLET = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture(scope="module")
def operator() -> OperatorKey:
    return OperatorKey.generate()


def test_a_sealed_secret_opens_only_with_its_operator_key_and_its_own_name(operator):
    sealed = seal(WALLET, "uniswap_private_key", operator.public)
    assert WALLET not in sealed and WALLET[2:] not in sealed
    assert operator.unseal(sealed, "uniswap_private_key") == WALLET
    with pytest.raises(SealError, match="sealed to operator key .* not to this one"):
        OperatorKey.generate().unseal(sealed, "uniswap_private_key")
    with pytest.raises(SealError, match="altered, or sealed under another name"):
        operator.unseal(sealed, "execution_key_local")  # a wallet key moved to an API key's place
    data = json.loads(sealed)
    flipped = bytearray(data["ciphertext"].encode())
    flipped[5] = ord("A") if flipped[5] != ord("A") else ord("B")
    with pytest.raises(SealError, match="altered"):
        operator.unseal(json.dumps({**data, "ciphertext": flipped.decode()}), "uniswap_private_key")
    other_kem = json.loads(seal(WALLET, "uniswap_private_key", operator.public))["mlkem768"]
    with pytest.raises(SealError, match="altered"):  # the ML-KEM half swapped: the derived key differs
        operator.unseal(json.dumps({**data, "mlkem768": other_kem}), "uniswap_private_key")
    with pytest.raises(SealError, match="not a kimera-sealed-v1 file"):
        operator.unseal(WALLET, "uniswap_private_key")


def test_a_passphrase_protected_operator_key_needs_its_passphrase(tmp_path, operator):
    path = tmp_path / "operator.key"
    operator.save(path, "correct horse battery staple")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["protection"] == "scrypt-aes256gcm"
    sealed = seal(WALLET, "w", operator.public)
    assert OperatorKey.load(path, "correct horse battery staple").unseal(sealed, "w") == WALLET
    with pytest.raises(SealError, match="wrong passphrase"):
        OperatorKey.load(path, "wrong")
    with pytest.raises(SealError, match="KIMERA_OPERATOR_PASSPHRASE"):
        OperatorKey.load(path, None)
    with pytest.raises(FileExistsError):
        operator.save(path, None)  # never overwritten


def test_keys_seal_replaces_the_plaintext_and_settings_open_it_in_memory(kimera_home, tmp_path, monkeypatch):
    secrets, key = tmp_path / "secrets", tmp_path / "op" / "operator.key"
    monkeypatch.setenv("KIMERA_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("KIMERA_OPERATOR_PASSPHRASE", "a passphrase for the test")
    get_settings.cache_clear()
    runner = CliRunner()
    made = runner.invoke(main, ["keys", "operator-new", str(key)])
    assert made.exit_code == 0, made.output
    secrets.mkdir()
    (secrets / "uniswap_private_key").write_text(WALLET + "\n")
    sealed = runner.invoke(main, ["keys", "seal", "uniswap_private_key", "--to", f"{key}.pub"])
    assert sealed.exit_code == 0, sealed.output
    assert sorted(p.name for p in secrets.iterdir()) == ["uniswap_private_key.sealed"]
    assert WALLET not in (secrets / "uniswap_private_key.sealed").read_text()
    # without the operator key the sealed file is useless, and the error says what to set
    with pytest.raises(SealError, match="set KIMERA_OPERATOR_KEY"):
        get_settings().secret("uniswap_private_key")
    monkeypatch.setenv("KIMERA_OPERATOR_KEY", str(key))
    get_settings.cache_clear()
    assert get_settings().secret("uniswap_private_key").get_secret_value() == WALLET
    assert WALLET not in repr(get_settings())
    # a second secret straight from stdin: no plaintext file at any moment
    piped = runner.invoke(main, ["keys", "seal", "execution_key_local", "--stdin"], input="k" * 40 + "\n")
    assert piped.exit_code == 0 and not (secrets / "execution_key_local").exists()
    assert runner.invoke(main, ["keys", "unseal", "execution_key_local"]).output.strip() == "k" * 40
    # a plaintext left beside its seal is refused, not silently preferred
    (secrets / "uniswap_private_key").write_text("stale\n")
    with pytest.raises(SealError, match="delete the plaintext"):
        get_settings().secret("uniswap_private_key")
    missing = runner.invoke(main, ["keys", "seal", "nothing_here", "--to", f"{key}.pub"])
    assert missing.exit_code == 2 and "no secret file" in missing.output
