"""The encrypted secrets file (seed 003 phase 1): API keys and other secrets at rest.

Format (JSON, one object, version 1)::

    {"format": "kinetic-secrets", "version": 1, "cipher": "AES-256-GCM",
     "kdf": {"name": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": "<base64>"},
     "nonce": "<base64, 12 bytes>", "ciphertext": "<base64>"}

The key is scrypt(master password, salt) with the stored parameters (memory-hard:
``n=2**17, r=8`` is 128 MiB); the plaintext is a JSON object ``{NAME: value}``; the
header (everything but nonce and ciphertext) is the GCM associated data, so a changed
parameter, salt or version fails authentication like a changed ciphertext does. The
file is written atomically with mode 0600 and refused when group or others may read it.

Errors are ``SecretsError`` with one line and never a secret value in it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets as pysecrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "kinetic-secrets"
VERSION = 1
CIPHER = "AES-256-GCM"
# OWASP's scrypt floor: N=2^17, r=8, p=1 (128 MiB per derivation)
KDF_N, KDF_R, KDF_P = 2**17, 8, 1
SALT_BYTES, NONCE_BYTES = 16, 12
# the names a secrets file may hold: EnvConfig's secret fields
SECRET_NAMES = (
    "BINANCE_API_KEY",
    "BINANCE_API_SECRET",
    "KRAKEN_API_KEY",
    "KRAKEN_API_SECRET",
    "KRAKEN_FUTURES_API_KEY",
    "KRAKEN_FUTURES_API_SECRET",
    "DATABASE_URL",
    "TELEGRAM_TOKEN",
    "KINETIC_API_TOKEN",
)
# key pairs come from one place: the environment or the file, never half of each
PAIRS = (
    ("BINANCE_API_KEY", "BINANCE_API_SECRET"),
    ("KRAKEN_API_KEY", "KRAKEN_API_SECRET"),
    ("KRAKEN_FUTURES_API_KEY", "KRAKEN_FUTURES_API_SECRET"),
)


class SecretsError(ValueError):
    """The secrets file is missing, unreadable, tampered with, or the password is wrong."""


def pair_of(name: str) -> tuple[str, ...]:
    """The names that travel together with ``name`` (itself alone when not a key pair)."""
    for pair in PAIRS:
        if name in pair:
            return pair
    return (name,)


def check_name(name: str) -> str:
    upper = name.upper()
    if upper not in SECRET_NAMES:
        raise SecretsError(f"unknown secret name {name!r}; allowed: {', '.join(SECRET_NAMES)}")
    return upper


def check_permissions(path: Path) -> None:
    """Refuse a file group or others may read or write (one line says how to fix it)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretsError(
            f"secrets file {path} has mode {mode:04o}: group/other may access it; "
            f"run `chmod 600 {path}` (refused until then)"
        )


def derive_key(password: str, kdf: Mapping[str, Any]) -> bytes:
    """scrypt with the file's parameters (32 bytes: AES-256)."""
    salt = base64.b64decode(kdf["salt"], validate=True)
    n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())


@dataclass
class SecretsFile:
    """An opened secrets file: its header, derived key and decrypted values."""

    path: Path
    header: dict[str, Any]
    key: bytes = field(repr=False)
    values: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, path: Path, password: str, n: int = KDF_N) -> SecretsFile:
        """A new, empty file (refused if one exists); saved at once."""
        if path.exists():
            raise SecretsError(f"secrets file {path} already exists (nothing changed)")
        new = cls(path, *_new_header_and_key(password, n))
        new.save()
        return new

    @classmethod
    def open(cls, path: Path, password: str) -> SecretsFile:
        """Read, check permissions, derive the key and decrypt; one-line errors."""
        if not path.is_file():
            raise SecretsError(f"no secrets file at {path} (create one with `secrets init`)")
        check_permissions(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            header = _header(doc)
            nonce = base64.b64decode(doc["nonce"], validate=True)
            blob = base64.b64decode(doc["ciphertext"], validate=True)
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretsError(
                f"secrets file {path} is not a readable Kinetic secrets file ({type(exc).__name__})"
            ) from None
        try:
            key = derive_key(password, header["kdf"])
        except (ValueError, TypeError, KeyError, MemoryError) as exc:
            raise SecretsError(
                f"secrets file {path}: unusable key parameters ({type(exc).__name__})"
            ) from None
        try:
            plain = AESGCM(key).decrypt(nonce, blob, _aad(header))
        except InvalidTag:
            raise SecretsError(
                f"secrets file {path}: wrong master password, or the file was altered"
            ) from None
        values = json.loads(plain)
        if not isinstance(values, dict):
            raise SecretsError(f"secrets file {path}: unexpected content")
        return cls(path, header, key, {str(k): str(v) for k, v in values.items()})

    def save(self) -> None:
        """Encrypt with a fresh nonce and replace the file atomically (mode 0600)."""
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(self.values, sort_keys=True).encode()
        blob = AESGCM(self.key).encrypt(nonce, plain, _aad(self.header))
        doc = {**self.header, "nonce": _b64(nonce), "ciphertext": _b64(blob)}
        _write_private(self.path, json.dumps(doc, indent=1) + "\n")

    def rekey(self, password: str, n: int = KDF_N) -> None:
        """A new salt and key from ``password`` (``rotate-password``); saved at once."""
        self.header, self.key = _new_header_and_key(password, n)
        self.save()


def _new_header_and_key(password: str, n: int) -> tuple[dict[str, Any], bytes]:
    if not password:
        raise SecretsError("the master password must not be empty")
    kdf = {"name": "scrypt", "n": n, "r": KDF_R, "p": KDF_P,
           "salt": _b64(os.urandom(SALT_BYTES))}  # fmt: skip
    header = {"format": FORMAT, "version": VERSION, "cipher": CIPHER, "kdf": kdf}
    return header, derive_key(password, kdf)


def _header(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a kinetic-secrets document")
    if doc.get("version") != VERSION:
        raise ValueError(f"format version {doc.get('version')!r}")
    kdf = doc["kdf"]
    if doc.get("cipher") != CIPHER or not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise ValueError("cipher or kdf")
    return {k: doc[k] for k in ("format", "version", "cipher", "kdf")}


def _aad(header: Mapping[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{pysecrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def merge_env_values(
    from_env: Mapping[str, str | None], from_file: Mapping[str, str]
) -> dict[str, str]:
    """The file's values the environment does not override, by whole pairs.

    ``from_env`` maps each secret name to the value the ``.env``/environment gave (None
    when unset). A pair with either half set there is taken from there entirely.
    """
    out: dict[str, str] = {}
    for name in SECRET_NAMES:
        group = pair_of(name)
        if any(from_env.get(n) for n in group):
            continue
        if name in from_file:
            out[name] = from_file[name]
    return out
