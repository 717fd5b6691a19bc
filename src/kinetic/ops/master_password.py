"""Where the master password comes from: never the command line.

In order: the file named by ``KINETIC_MASTER_PASSWORD_FILE``; systemd's credential
``kinetic-master-password`` in ``$CREDENTIALS_DIRECTORY`` (``LoadCredential=`` in the
unit); a prompt on the terminal (``/dev/tty``, so standard input stays free for values).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from kinetic.ops.secrets import SecretsError

PASSWORD_FILE_ENV = "KINETIC_MASTER_PASSWORD_FILE"  # noqa: S105 - a variable's name
CREDENTIAL_NAME = "kinetic-master-password"
Prompt = Callable[[str], str]


def password_source(environ: Mapping[str, str] | None = None) -> Path | None:
    """The file the password would be read from, or None (prompt)."""
    env = os.environ if environ is None else environ
    if env.get(PASSWORD_FILE_ENV):
        return Path(env[PASSWORD_FILE_ENV])
    creds = env.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / CREDENTIAL_NAME).is_file():
        return Path(creds) / CREDENTIAL_NAME
    return None


def read_password(
    environ: Mapping[str, str] | None = None,
    *,
    prompt: Prompt | None = None,
    confirm: bool = False,
    interactive: bool = True,
) -> str:
    """The master password from a file, the credential, or a terminal prompt."""
    path = password_source(environ)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretsError(f"master password file {path}: {exc.strerror}") from None
        password = text.rstrip("\r\n")
        if not password:
            raise SecretsError(f"master password file {path} is empty")
        return password
    if not interactive or (prompt is None and not _has_tty()):
        raise SecretsError(
            f"no master password: set {PASSWORD_FILE_ENV}=<file>, provide the systemd "
            f"credential {CREDENTIAL_NAME}, or run on a terminal"
        )
    ask = prompt or getpass.getpass
    password = ask("master password: ")
    if confirm and ask("master password again: ") != password:
        raise SecretsError("the two passwords differ (nothing changed)")
    if not password:
        raise SecretsError("the master password must not be empty")
    return password


def _has_tty() -> bool:
    try:
        with open("/dev/tty"):  # getpass prompts there
            return True
    except OSError:
        return sys.stdin.isatty()
