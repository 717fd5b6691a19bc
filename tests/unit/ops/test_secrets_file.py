"""The secrets file format: round trip, wrong password, tampering, permissions, pairs."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from kinetic.ops.secrets import (
    SecretsError,
    SecretsFile,
    check_name,
    merge_env_values,
)

FAST_N = 2**12  # the format stores n; tests use a cheap one (the default is 2**17)
PW = "correct horse battery staple"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "secrets.enc"
    store = SecretsFile.create(path, PW, n=FAST_N)
    store.values.update({"BINANCE_API_KEY": "k-123", "BINANCE_API_SECRET": "s-456"})
    store.save()
    return path


def test_round_trip_mode_0600_and_nothing_in_clear(tmp_path: Path) -> None:
    path = _file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "k-123" not in text
    assert "s-456" not in text
    doc = json.loads(text)
    assert doc["format"] == "kinetic-secrets"
    assert doc["version"] == 1
    assert doc["cipher"] == "AES-256-GCM"
    assert doc["kdf"]["name"] == "scrypt"
    assert doc["kdf"]["n"] == FAST_N
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 16
    opened = SecretsFile.open(path, PW)
    assert opened.values == {"BINANCE_API_KEY": "k-123", "BINANCE_API_SECRET": "s-456"}
    assert "k-123" not in repr(opened)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_wrong_password_is_one_line(tmp_path: Path) -> None:
    path = _file(tmp_path)
    with pytest.raises(SecretsError, match="wrong master password, or the file was altered"):
        SecretsFile.open(path, PW + "x")


@pytest.mark.parametrize("part", ["ciphertext", "nonce", "salt", "n", "version", "json"])
def test_tampered_file_fails_never_returns_values(tmp_path: Path, part: str) -> None:
    path = _file(tmp_path)
    doc = json.loads(path.read_text())
    if part in ("ciphertext", "nonce"):
        raw = bytearray(base64.b64decode(doc[part]))
        raw[0] ^= 1
        doc[part] = base64.b64encode(bytes(raw)).decode()
    elif part == "salt":
        doc["kdf"]["salt"] = base64.b64encode(os.urandom(16)).decode()
    elif part == "n":
        doc["kdf"]["n"] = FAST_N * 2
    elif part == "version":
        doc["version"] = 2
    text = json.dumps(doc) if part != "json" else path.read_text()[:-20]
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(SecretsError) as exc:
        SecretsFile.open(path, PW)
    assert "\n" not in str(exc.value)
    assert "k-123" not in str(exc.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_file_readable_by_group_or_other_is_refused(tmp_path: Path, mode: int) -> None:
    path = _file(tmp_path)
    os.chmod(path, mode)
    with pytest.raises(SecretsError, match="chmod 600"):
        SecretsFile.open(path, PW)


def test_create_refuses_an_existing_file_and_empty_password(tmp_path: Path) -> None:
    path = _file(tmp_path)
    before = path.read_bytes()
    with pytest.raises(SecretsError, match="already exists"):
        SecretsFile.create(path, PW, n=FAST_N)
    assert path.read_bytes() == before
    with pytest.raises(SecretsError, match="must not be empty"):
        SecretsFile.create(tmp_path / "other.enc", "", n=FAST_N)


def test_rekey_changes_salt_and_password(tmp_path: Path) -> None:
    path = _file(tmp_path)
    salt = json.loads(path.read_text())["kdf"]["salt"]
    store = SecretsFile.open(path, PW)
    store.rekey("new password", n=FAST_N)
    assert json.loads(path.read_text())["kdf"]["salt"] != salt
    with pytest.raises(SecretsError):
        SecretsFile.open(path, PW)
    assert SecretsFile.open(path, "new password").values["BINANCE_API_KEY"] == "k-123"


def test_environment_wins_by_whole_pairs() -> None:
    stored = {"BINANCE_API_KEY": "fk", "BINANCE_API_SECRET": "fs", "KRAKEN_API_KEY": "kk",
              "KRAKEN_API_SECRET": "ks", "TELEGRAM_TOKEN": "ft"}  # fmt: skip
    env = {"BINANCE_API_KEY": "ek", "TELEGRAM_TOKEN": None, "KRAKEN_API_SECRET": ""}
    merged = merge_env_values(env, stored)
    # half of the Binance pair is in the environment: the file's Binance pair is not used
    assert "BINANCE_API_KEY" not in merged
    assert "BINANCE_API_SECRET" not in merged
    assert merged == {"KRAKEN_API_KEY": "kk", "KRAKEN_API_SECRET": "ks", "TELEGRAM_TOKEN": "ft"}


def test_names_are_checked() -> None:
    assert check_name("binance_api_key") == "BINANCE_API_KEY"
    with pytest.raises(SecretsError, match="unknown secret name 'MODE'"):
        check_name("MODE")
