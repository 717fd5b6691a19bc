"""``python main.py secrets init|set NAME|list|verify|rotate-password|remove NAME``.

Exit codes: 0 done; 1 a venue could not be reached to check a key (nothing saved);
2 refused: bad input, wrong master password, tampered or unsafe file, a key the venue
rejected. Every error is one line; no secret value is ever printed or logged.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config import EnvConfig, UnifiedConfig
from kinetic.ops.key_check import KeyCheckUnavailable, KeyRejected, check_pair, checkable
from kinetic.ops.master_password import read_password
from kinetic.ops.secrets import SecretsError, SecretsFile, check_name, pair_of

EXIT_UNREACHABLE = 1
EXIT_REFUSED = 2
Printer = Callable[[str], None]


def add_arguments(sub: Any) -> None:
    """Add ``secrets`` and its actions to main's subparsers."""
    sec = sub.add_parser("secrets", help="the encrypted secrets file (docs/deployment.md)")
    names = "{init,set,list,verify,rotate-password,remove}"
    actions = sec.add_subparsers(dest="secrets_action", required=True, metavar=names)
    actions.add_parser("init", help="create an empty secrets file (asks for a master password)")
    st = actions.add_parser("set", help="store a secret; the value is read from the terminal "
                            "or standard input, never from the command line")  # fmt: skip
    st.add_argument("name", help="e.g. BINANCE_API_KEY")
    st.add_argument(
        "--unvalidated",
        action="store_true",
        help="save a venue key even if the venue cannot be reached to check it",
    )
    actions.add_parser("list", help="the names stored (never the values)")
    actions.add_parser("verify", help="check the password and the file's integrity")
    rot = actions.add_parser("rotate-password", help="re-encrypt under a new master password")
    rot.add_argument("--new-password-file", help="read the new password from this file")
    rm = actions.add_parser("remove", help="delete a secret")
    rm.add_argument("name")


def run(
    args: argparse.Namespace,
    config: UnifiedConfig,
    env: EnvConfig,
    *,
    out: Printer = print,
    err: Printer | None = None,
) -> int:
    """Run one ``secrets`` action against ``config.secrets_file``."""
    err = err or (lambda line: print(f"kinetic: {line}", file=sys.stderr))
    path = Path(config.secrets_file)
    try:
        return _ACTIONS[args.secrets_action](args, path, config, env, out)
    except SecretsError as exc:
        err(str(exc))
        return EXIT_REFUSED
    except KeyRejected as exc:
        err(f"{exc}; nothing saved")
        return EXIT_REFUSED
    except KeyCheckUnavailable as exc:
        err(f"{exc}; nothing saved (add --unvalidated to save it unchecked)")
        return EXIT_UNREACHABLE


def _init(args: argparse.Namespace, path: Path, _c: UnifiedConfig, _e: EnvConfig,
          out: Printer) -> int:  # fmt: skip
    if path.exists():
        raise SecretsError(f"secrets file {path} already exists (nothing changed)")
    SecretsFile.create(path, read_password(confirm=True))
    out(f"created {path} (mode 0600, scrypt, AES-256-GCM); add secrets with `secrets set NAME`")
    return 0


def _set(args: argparse.Namespace, path: Path, config: UnifiedConfig, env: EnvConfig,
         out: Printer) -> int:  # fmt: skip
    name = check_name(args.name)
    store = SecretsFile.open(path, read_password())
    pair = pair_of(name)
    # a key pair is checked and stored whole: ask for the other half if the file lacks it
    wanted = [n for n in pair if n == name or n not in store.values]
    new = read_values(wanted)
    candidate = {**{n: store.values[n] for n in pair if n in store.values}, **new}
    note = ""
    if checkable(pair):
        try:
            where = asyncio.run(check_pair(pair, candidate, config, env))
            note = f"; checked against {where}"
        except KeyCheckUnavailable as exc:
            if not args.unvalidated:
                raise
            out(f"warning: {exc}; saved UNCHECKED (--unvalidated)")
            note = "; not checked"
    store.values.update(new)
    store.save()
    out(f"saved {', '.join(wanted)} in {path}{note}")
    return 0


def _list(_a: argparse.Namespace, path: Path, _c: UnifiedConfig, env: EnvConfig,
          out: Printer) -> int:  # fmt: skip
    store = SecretsFile.open(path, read_password())
    for name in sorted(store.values):
        overridden = any(getattr(env, n.lower()) is not None for n in pair_of(name))
        out(f"{name}" + ("  (overridden by .env/environment)" if overridden else ""))
    if not store.values:
        out("(no secrets stored)")
    return 0


def _verify(_a: argparse.Namespace, path: Path, _c: UnifiedConfig, _e: EnvConfig,
            out: Printer) -> int:  # fmt: skip
    store = SecretsFile.open(path, read_password())
    kdf = store.header["kdf"]
    out(f"{path}: ok (format {store.header['version']}, {len(store.values)} secrets, "
        f"scrypt n={kdf['n']} r={kdf['r']} p={kdf['p']}, {store.header['cipher']})")  # fmt: skip
    return 0


def _rotate(args: argparse.Namespace, path: Path, _c: UnifiedConfig, _e: EnvConfig,
            out: Printer) -> int:  # fmt: skip
    store = SecretsFile.open(path, read_password())
    if args.new_password_file:
        new = read_password({"KINETIC_MASTER_PASSWORD_FILE": args.new_password_file})
    else:
        new = read_password({}, confirm=True, prompt=_new_prompt())
    store.rekey(new)
    out(f"{path}: re-encrypted under the new master password (new salt)")
    return 0


def _remove(args: argparse.Namespace, path: Path, _c: UnifiedConfig, _e: EnvConfig,
            out: Printer) -> int:  # fmt: skip
    name = check_name(args.name)
    store = SecretsFile.open(path, read_password())
    if name not in store.values:
        raise SecretsError(f"{name} is not in {path} (nothing changed)")
    del store.values[name]
    store.save()
    out(f"removed {name} from {path}")
    return 0


def read_values(names: list[str]) -> dict[str, str]:
    """One value per name: a hidden terminal prompt, else one line of standard input each."""
    values: dict[str, str] = {}
    for name in names:
        if sys.stdin.isatty():
            value = getpass.getpass(f"{name}: ")
        else:
            value = sys.stdin.readline().rstrip("\r\n")
        if not value.strip():
            raise SecretsError(f"no value for {name} on standard input (nothing changed)")
        values[name] = value.strip()
    return values


def _new_prompt() -> Callable[[str], str] | None:
    from kinetic.ops.master_password import _has_tty

    if not _has_tty():
        raise SecretsError("no new password: give --new-password-file FILE or run on a terminal")
    return lambda text: getpass.getpass("new " + text)


_ACTIONS: dict[str, Callable[..., int]] = {
    "init": _init,
    "set": _set,
    "list": _list,
    "verify": _verify,
    "rotate-password": _rotate,
    "remove": _remove,
}
