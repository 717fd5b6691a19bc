"""``config show`` (the effective configuration, redacted, with each value's source) and
``config check FILE`` (validate a YAML file without starting anything).

Sources, later wins, as ``config.load_config`` and ``main._load`` apply them: ``default``,
the YAML file (its path), a ``KINETIC_<FIELD>`` variable, ``command line`` (``--live``,
``--replay-speed``, ``--db``); for the deployment settings: ``default``, the ``.env`` file,
the environment, the secrets file. Secret values are never printed: a set secret shows
as ``***``, a database URL with its password masked.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import SecretStr

from config import (
    ENV_PREFIX,
    ConfigValidationError,
    EnvConfig,
    UnifiedConfig,
    env_overrides,
    load_config,
)

Row = tuple[str, str, str]  # name, shown value, source
Printer = Callable[[str], None]
# main._load turns these flags of `run` into config overrides
_FLAG_FIELDS = {"replay_speed": "--replay-speed", "live_trading_enabled": "--live"}


def add_arguments(sub: Any) -> None:
    """Add ``config show`` and ``config check`` to main's subparsers."""
    cfg = sub.add_parser("config", help="show the effective configuration or check a file")
    actions = cfg.add_subparsers(dest="config_action", required=True, metavar="{show,check}")
    show = actions.add_parser("show", help="effective configuration with each value's source")
    show.add_argument("--json", action="store_true", help="one JSON object")
    modes = ["replay", "paper", "dry_run", "validate_only", "live"]
    show.add_argument("--mode", choices=modes, help="as `run --mode`")
    show.add_argument("--live", action="store_true", help="as `run --live`")
    show.add_argument("--replay-speed", type=float, help="as `run --replay-speed`")
    show.add_argument("--db", help="as `run --db`")
    check = actions.add_parser("check", help="validate a YAML config file; starts nothing")
    check.add_argument("file", help="the YAML file")
    check.add_argument(
        "--with-env", action="store_true", help="apply this shell's KINETIC_* variables too"
    )


def check_file(path: str, with_env: bool, environ: Mapping[str, str] | None = None) -> str:
    """Validate ``path`` (defaults + file [+ KINETIC_* variables]); return the ok line.

    Raises ``ConfigValidationError`` with one line naming the problem.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigValidationError(f"config file {p}: no such file")
    env = dict(os.environ if environ is None else environ) if with_env else {}
    env.pop("KINETIC_CONFIG", None)
    values = load_config(p, environ=env).model_dump()
    defaults = UnifiedConfig().model_dump()
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    changed = sum(1 for k in raw if values[k] != defaults[k])
    return f"{p}: valid ({len(raw)} fields set, {changed} differ from the defaults)"


def config_rows(
    args: argparse.Namespace,
    config: UnifiedConfig,
    env: EnvConfig,
    environ: Mapping[str, str] | None = None,
    secret_names: frozenset[str] = frozenset(),
) -> list[Row]:
    """Every tunable and deployment setting with its redacted value and its source."""
    environ = os.environ if environ is None else environ
    sources = _tunable_sources(args, environ)
    rows: list[Row] = []
    for name in UnifiedConfig.model_fields:
        rows.append((name, _show(name, getattr(config, name)), sources.get(name, "default")))
    env_src = _env_sources(args, environ, secret_names)
    for name in EnvConfig.model_fields:
        value = getattr(env, name)
        rows.append((name.upper(), _show(name, value), env_src.get(name, "default")))
    if getattr(args, "mode", None):
        rows = [r if r[0] != "MODE" else ("MODE", args.mode, "command line (--mode)") for r in rows]
    if getattr(args, "db", None):
        from kinetic.storage.db import safe_url

        db = ("DATABASE_URL", safe_url(args.db), "command line (--db)")
        rows = [r if r[0] != "DATABASE_URL" else db for r in rows]
    return rows


def render(rows: list[Row], as_json: bool) -> str:
    """Aligned ``name = value  # source`` lines, or one JSON object."""
    if as_json:
        return json.dumps({n: {"value": v, "source": s} for n, v, s in rows})
    width = max(len(n) for n, _, _ in rows)
    vwidth = min(max(len(v) for _, v, _ in rows), 40)
    return "\n".join(f"{n:<{width}} = {v:<{vwidth}}  # {s}" for n, v, s in rows)


def _show(name: str, value: Any) -> str:
    from kinetic.storage.db import safe_url

    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if name == "database_url":
            return safe_url(secret)
        return "***" if secret else "(empty)"
    if value is None:
        return "(unset)"
    if name == "venue_urls":
        value = {k: safe_url(v) for k, v in value.items()}
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _tunable_sources(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    path = getattr(args, "config", None) or environ.get("KINETIC_CONFIG") or None
    if path is not None and Path(path).is_file():
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            out.update(dict.fromkeys(loaded, f"YAML {path}"))
    for field in env_overrides(environ):
        out[field] = f"{ENV_PREFIX}{field.upper()}"
    env_file = _env_file_values(args)
    for switch in ("spot_enabled", "futures_enabled"):
        if switch.upper() in environ and environ[switch.upper()] != "":
            out[switch] = f"environment {switch.upper()}"
        elif env_file.get(switch):
            out[switch] = f".env {switch.upper()} ({getattr(args, 'env_file', None) or '.env'})"
    if getattr(args, "replay_speed", None) is not None:
        out["replay_speed"] = f"command line ({_FLAG_FIELDS['replay_speed']})"
    if getattr(args, "live", False):
        out["live_trading_enabled"] = f"command line ({_FLAG_FIELDS['live_trading_enabled']})"
    return out


def _env_file_values(args: argparse.Namespace) -> dict[str, str]:
    path = getattr(args, "env_file", None) or ".env"
    if not Path(path).is_file():
        return {}
    return {k.lower(): v for k, v in dotenv_values(path).items() if v}


def _env_sources(
    args: argparse.Namespace, environ: Mapping[str, str], secret_names: frozenset[str]
) -> dict[str, str]:
    out: dict[str, str] = dict.fromkeys(secret_names, "secrets file")
    path = getattr(args, "env_file", None) or ".env"
    for name in _env_file_values(args):
        if name in EnvConfig.model_fields:
            out[name] = f".env ({path})"
    for name in EnvConfig.model_fields:
        if name.upper() in environ:  # load_env: the environment wins, an empty value unsets
            if environ[name.upper()]:
                out[name] = "environment"
            else:
                out.pop(name, None)
    return out
