"""Kinetic command line: run | backtest | parity | status | migrate | doctor | ...

Installed, the same entry point is the ``kinetic`` console script (pyproject.toml
``[project.scripts]``); ``kinetic completion bash|zsh`` prints its shell completion.

Exit codes: 0 ok, 1 runtime failure, 2 configuration error (one clear line, no traceback),
3 database schema refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, get_args

from config import (
    ConfigValidationError,
    EnvConfig,
    Mode,
    UnifiedConfig,
    load_config,
    load_env,
)

EXIT_CONFIG = 2
EXIT_SCHEMA = 3


def _parser() -> argparse.ArgumentParser:
    from kinetic.ops.cli_habits import OneLineParser, VersionAction

    p = OneLineParser(prog="kinetic", description="Kinetic trading daemon")
    p.add_argument("--version", action=VersionAction)
    p.add_argument(
        "--config", help="YAML config file (default: $KINETIC_CONFIG or built-in defaults)"
    )
    p.add_argument("--env-file", help="secrets file (default: .env, if present)")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon (default mode: replay)")
    run.add_argument("--mode", choices=get_args(Mode), help="overrides MODE from .env")
    run.add_argument("--live", action="store_true", help="confirm live trading")
    run.add_argument("--replay-speed", type=float, help="market seconds per wall second")
    run.add_argument("--db", help="database URL or SQLite path (overrides DATABASE_URL)")
    status = sub.add_parser("status", help="print the combined status from the database")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument("--db", help="database URL or SQLite path")
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--db", help="database URL or SQLite path")
    from kinetic.backtest.cli import add_arguments

    add_arguments(sub.add_parser("backtest", help="backtest a strategy on recorded candles"))
    from kinetic.backtest.optimize_cli import add_arguments as add_optimize_arguments

    add_optimize_arguments(
        sub.add_parser("optimize", help="search strategy parameters (Optuna, walk-forward)")
    )
    from kinetic.venues.fakes.sandbox import add_arguments as add_sandbox_arguments

    add_sandbox_arguments(sub.add_parser("sandbox", help="run local fake venues (docs/sandbox.md)"))
    from kinetic.control.cli import add_arguments as add_control_arguments

    add_control_arguments(sub)  # killswitch on|off|status, flatten --confirm
    from kinetic.ops.data_cli import add_arguments as add_data_arguments

    add_data_arguments(sub.add_parser("data", help="download, import, check, list candle files"))
    from kinetic.backtest.parity_cli import add_arguments as add_parity_arguments

    add_parity_arguments(sub.add_parser("parity", help="compare a run with its backtest"))
    doctor = sub.add_parser("doctor", help="check configuration, data and database")
    doctor.add_argument("--db", help="database URL or SQLite path")
    from kinetic.ops.config_view import add_arguments as add_config_arguments

    add_config_arguments(sub)  # config show | config check FILE
    from kinetic.ops.secrets_cli import add_arguments as add_secrets_arguments

    add_secrets_arguments(sub)  # secrets init | set | list | verify | rotate-password | remove
    from kinetic.ops.backup_cli import add_arguments as add_backup_arguments

    add_backup_arguments(sub)  # backup [--db] [--to] [--keep-days] | restore FILE --confirm
    from kinetic.ops.completion import add_arguments as add_completion_arguments

    add_completion_arguments(sub)  # completion bash|zsh
    return p


def _load(args: argparse.Namespace) -> tuple[UnifiedConfig, EnvConfig]:
    from kinetic.logging import get_logger

    log = get_logger(component="config")
    config = load_config(args.config, warn=lambda msg: log.warning(msg))
    overrides: dict[str, Any] = {}
    if getattr(args, "replay_speed", None) is not None:
        overrides["replay_speed"] = args.replay_speed
    if getattr(args, "live", False):
        overrides["live_trading_enabled"] = True
    env = load_env(args.env_file or ".env", required=args.env_file is not None)
    if env.spot_enabled is not None:
        overrides["spot_enabled"] = env.spot_enabled
    if env.futures_enabled is not None:
        overrides["futures_enabled"] = env.futures_enabled
    if overrides:
        config = load_config_with(config, overrides)
    if args.command in ("run", "doctor", "config", "backup", "restore"):  # the secrets file
        from kinetic.ops.secrets_env import apply_secrets_file

        interactive = args.command in ("run", "doctor")  # the others never prompt
        env, args.secret_names = apply_secrets_file(config, env, interactive=interactive)
    return config, env


def load_config_with(config: UnifiedConfig, overrides: dict[str, Any]) -> UnifiedConfig:
    from pydantic import ValidationError

    from config import _format_errors

    try:
        return UnifiedConfig.model_validate({**config.model_dump(), **overrides})
    except ValidationError as exc:
        raise _format_errors(exc, dict.fromkeys(overrides, "command line")) from None


def _db_url(args: argparse.Namespace, config: UnifiedConfig, env: EnvConfig) -> str:
    from kinetic.storage.db import resolve_database_url

    raw = getattr(args, "db", None)
    # status and parity never write, not even a folder; backup/restore create only what they must
    create = args.command not in ("status", "parity", "backup", "restore")
    if raw and "://" not in raw:
        return resolve_database_url(None, raw, create_dir=create)
    if raw:
        return resolve_database_url(raw, config.sqlite_path, create_dir=create)
    env_url = env.database_url.get_secret_value() if env.database_url else None
    return resolve_database_url(env_url, config.sqlite_path, create_dir=create)


async def _status(url: str, as_json: bool) -> int:
    from kinetic.cli_output import print_stdout
    from kinetic.cli_status import render_status
    from kinetic.storage.db import Database, sqlite_file
    from kinetic.storage.status import read_status

    path = sqlite_file(url)
    if path is not None and not path.exists():
        print(f"kinetic: no database at {path} (status never creates one)", file=sys.stderr)
        return EXIT_CONFIG
    db = Database(url)
    await db.connect()
    try:
        # read-only: an empty database has no status yet; an unknown schema is refused
        if await db.schema_version() is None:
            status = {
                "engines": {},
                "total_value_usd": 0.0,
                "total_pnl_usd": 0.0,
                "circuit_breaker_active": False,
                "positions": [],
                "allocation": {},
            }
        else:
            await db.check_schema()
            status = await read_status(db)
    finally:
        await db.close()
    print_stdout(json.dumps(status, default=str) if as_json else render_status(status))
    return 0


async def _migrate(url: str) -> int:
    from kinetic.storage.db import Database, safe_url

    db = Database(url)
    await db.connect()
    try:
        rev = await db.migrate()
    finally:
        await db.close()
    print(f"database {safe_url(url)} at revision {rev}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from kinetic.ops.cli_habits import hoist_global_options

    parser = _parser()
    args = parser.parse_args(hoist_global_options(sys.argv[1:] if argv is None else argv))
    early = _without_config(args, parser)
    if early is not None:
        return early
    from kinetic.logging import configure_logging

    configure_logging("INFO")
    try:
        config, env = _load(args)
        configure_logging(config.log_level)
        from kinetic.logging import REDACTOR

        REDACTOR.add(env.secrets())
        if args.command == "backtest":
            from kinetic.backtest.cli import run as run_backtest

            return run_backtest(args, config)
        if args.command == "optimize":
            from kinetic.backtest.optimize_cli import run as run_optimize

            return run_optimize(args, config, env)
        if args.command == "data":
            from kinetic.ops.data_cli import run as run_data

            return run_data(args, config, env)
        if args.command in ("config", "secrets", "backup", "restore"):
            return _ops_command(args, config, env)
        return _dispatch(args, config, env)
    except ConfigValidationError as exc:
        print(f"kinetic: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 0


def _without_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int | None:
    """Run the commands that load no configuration; None for every other command."""
    if args.command == "completion":  # generated from the parser; needs nothing else
        from kinetic.ops.completion import run as run_completion

        return run_completion(args, parser)
    if args.command == "config" and args.config_action == "check":  # the file alone
        from kinetic.ops.config_view import check_file

        try:
            print(check_file(args.file, args.with_env))
        except ConfigValidationError as exc:
            print(f"kinetic: configuration error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return 0
    if args.command == "sandbox":  # needs no config: it only starts local fake venues
        from kinetic.venues.fakes.sandbox import run as run_sandbox

        return run_sandbox(args)
    return None


def _ops_command(args: argparse.Namespace, config: UnifiedConfig, env: EnvConfig) -> int:
    """``config show``, ``secrets ...``, ``backup`` and ``restore`` (kinetic.ops)."""
    if args.command in ("backup", "restore"):
        from kinetic.ops.backup_cli import run as run_backup

        return run_backup(args, _db_url(args, config, env))
    if args.command == "config":  # config show (config check ran before any loading)
        from kinetic.ops.config_view import config_rows, render

        rows = config_rows(args, config, env, secret_names=args.secret_names)
        print(render(rows, args.json))
        return 0
    from kinetic.logging import configure_logging
    from kinetic.ops.secrets_cli import run as run_secrets

    configure_logging("CRITICAL")  # it prints its own lines; venue client logs would repeat them
    return run_secrets(args, config, env)


def _dispatch(args: argparse.Namespace, config: UnifiedConfig, env: EnvConfig) -> int:
    import asyncpg
    from sqlalchemy.exc import SQLAlchemyError

    from kinetic.app import StartupError, run_daemon
    from kinetic.storage.db import StorageError

    try:
        if args.command == "run":
            mode = args.mode or env.mode
            if args.db:
                env = env.model_copy(update={"database_url": _secret(_db_url(args, config, env))})
            return asyncio.run(run_daemon(config, env, mode))
        if args.command in ("status", "migrate", "killswitch", "flatten"):
            return asyncio.run(_db_command(args, _db_url(args, config, env)))
        if args.command == "parity":
            from kinetic.backtest.parity_cli import run as run_parity

            return run_parity(args, config, _db_url(args, config, env))
        if args.command == "doctor":
            from kinetic.doctor import run_doctor

            return asyncio.run(run_doctor(config, env, _db_url(args, config, env)))
    except StorageError as exc:  # schema newer than this code, or not migrated yet
        print(f"kinetic: database refused: {exc}", file=sys.stderr)
        return EXIT_SCHEMA
    except BrokenPipeError:  # output piped into a closed reader (e.g. `| head`)
        return 0
    except (OSError, SQLAlchemyError, asyncpg.PostgresError) as exc:
        print(f"kinetic: database unavailable: {_describe_db_error(exc)}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"kinetic: cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 1


async def _db_command(args: argparse.Namespace, url: str) -> int:
    """Run a command that needs only the database (status, migrate, killswitch, flatten)."""
    if args.command == "status":
        return await _status(url, args.json)
    if args.command == "migrate":
        return await _migrate(url)
    from kinetic.control.cli import run as run_control

    return await run_control(args, url)


def _describe_db_error(exc: BaseException) -> str:
    # driver messages can quote the URL; keep the type and the first line, scrubbed
    from kinetic.logging import REDACTOR

    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {REDACTOR.scrub(first)}"[:300]


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


if __name__ == "__main__":
    sys.exit(main())
