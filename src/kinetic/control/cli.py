"""``python main.py killswitch on|off|status`` and ``python main.py flatten --confirm``.

``on``/``off`` and ``flatten`` act on a running daemon through the database: they queue
an ``operator_commands`` row, wait (at most ``--wait`` seconds, 10 by default) for the
daemon to mark it done, and print its result line. ``killswitch status`` reads the
trading states and needs no daemon.

Exit codes: 0 done; 1 the daemon reported the command failed, or did not confirm it in
time (the line says whether it may still run); 2 refused before anything was queued
(no daemon running on this database, ``flatten`` without ``--confirm``, no database).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinetic.domain import TradingState

if TYPE_CHECKING:  # the parser is built for every command: keep its imports light
    from kinetic.clock import Clock
    from kinetic.storage.repositories import Repositories

EXIT_FAILED = 1
EXIT_REFUSED = 2
WAIT_S = 10.0
POLL_S = 0.1
ALIVE_KEY = "daemon_alive"  # kinetic.control.poller writes it
STALE_AFTER_S = 10.0  # five missed refreshes (the daemon writes it every 2 s): no daemon
Printer = Callable[[str], None]


def add_arguments(sub: Any) -> None:
    """Add the ``killswitch`` and ``flatten`` subcommands to main's subparsers."""
    ks = sub.add_parser("killswitch", help="kill switch of a running daemon: on | off | status")
    ks.add_argument("action", choices=["on", "off", "status"])
    ks.add_argument("--reason", default="", help="why (recorded with the state and event)")
    ks.add_argument("--engine", help="off: clear only this engine's state")
    _common(ks)
    fl = sub.add_parser("flatten", help="close every position of a running daemon")
    fl.add_argument("--confirm", action="store_true", help="required: really close everything")
    fl.add_argument("--reason", default="", help="why (recorded with the event)")
    _common(fl)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="database URL or SQLite path")
    p.add_argument("--wait", type=float, default=WAIT_S, help="seconds to wait for the daemon")


def _out(line: str) -> None:
    print(line)


def _err(line: str) -> None:
    print(f"kinetic: {line}", file=sys.stderr)


async def run(
    args: argparse.Namespace,
    url: str,
    *,
    clock: Clock | None = None,
    out: Printer = _out,
    err: Printer = _err,
) -> int:
    """Run ``killswitch`` or ``flatten`` against the database at ``url``."""
    from kinetic.clock import RealClock
    from kinetic.storage.db import Database
    from kinetic.storage.repositories import Repositories

    if args.command == "flatten" and not args.confirm:
        err("flatten closes every open position at market; add --confirm to do it")
        return EXIT_REFUSED
    missing = _missing_sqlite_file(url)
    if missing is not None:
        err(f"no database at {missing}: no daemon has run here (check --db)")
        return EXIT_REFUSED
    clk = clock or RealClock()
    db = Database(url)
    await db.connect()
    try:
        if await db.schema_version() is None:
            err("the database has no schema yet: no daemon has run on it")
            return EXIT_REFUSED
        await db.check_schema()
        repos = Repositories.create(db, clk)
        if args.command == "killswitch" and args.action == "status":
            out(render_states(await read_states(repos), await daemon_liveness(repos, clk)))
            return 0
        return await _command(args, repos, clk, out, err)
    finally:
        await db.close()


def _missing_sqlite_file(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix):
        return None
    path = Path(url[len(prefix) :])
    return None if path.exists() else path


async def _command(
    args: argparse.Namespace, repos: Repositories, clock: Clock, out: Printer, err: Printer
) -> int:
    from kinetic.control.poller import COMMAND_TTL_S

    alive = await daemon_liveness(repos, clock)
    if not alive["running"]:
        err(f"no daemon is running on this database ({alive['detail']}); {args.command} "
            "acts through a running daemon: nothing was done")  # fmt: skip
        return EXIT_REFUSED
    if args.command == "flatten":
        kind, cmd_args = "flatten", {"reason": args.reason}
    else:
        kind = "killswitch"
        cmd_args = {"action": args.action, "reason": args.reason, "engine": args.engine}
    command_id = await repos.commands.add(kind, cmd_args)
    deadline = clock.time() + args.wait
    while True:
        command = await repos.commands.get(command_id)
        if command is not None and command.status != "pending":
            if command.status == "done":
                out(command.result)
                return 0
            err(command.result or f"command #{command_id} failed")
            return EXIT_FAILED
        if clock.time() >= deadline:
            err(f"the daemon did not confirm command #{command_id} within {args.wait:g} s; it "
                f"may still run (it expires {COMMAND_TTL_S:g} s after queuing): check "
                "`killswitch status`")  # fmt: skip
            return EXIT_FAILED
        await clock.sleep(POLL_S)


async def daemon_liveness(repos: Repositories, clock: Clock) -> dict[str, Any]:
    """Whether a daemon refreshed its liveness row lately, with a human detail."""
    raw = await repos.installation.get(ALIVE_KEY)
    if not raw:
        return {"running": False, "detail": "it never reported"}
    try:
        data = json.loads(raw)
        pid, ms = int(data.get("pid", 0)), int(data.get("ms", 0))
    except (ValueError, TypeError, AttributeError):
        return {"running": False, "detail": "liveness row unreadable"}
    if ms == 0:
        return {"running": False, "pid": pid, "detail": f"pid {pid} stopped cleanly"}
    age_s = clock.time() - ms / 1000
    if age_s > STALE_AFTER_S:
        return {"running": False, "pid": pid,
                "detail": f"pid {pid} last seen {_iso(ms)}, {age_s:.0f} s ago"}  # fmt: skip
    return {"running": True, "pid": pid, "detail": f"pid {pid}, seen {max(age_s, 0):.1f} s ago"}


async def read_states(repos: Repositories) -> dict[str, dict[str, Any]]:
    """Every saved scope's state (``daemon`` first); never-set scopes are ACTIVE."""
    rows = await repos.trading_states.load_all()
    rows.setdefault("daemon", {"state": "ACTIVE", "cause": "", "source": "", "since_ms": 0})
    return dict(sorted(rows.items(), key=lambda kv: (kv[0] != "daemon", kv[0])))


def render_states(states: dict[str, dict[str, Any]], alive: dict[str, Any]) -> str:
    """One line per scope (state, effective state, cause, source, since) and the daemon."""
    daemon = _state(states["daemon"].get("state"))
    lines = []
    for scope, row in states.items():
        own = _state(row.get("state"))
        effective = own if scope == "daemon" else own.worst(daemon)
        shown = str(own) + ("" if effective is own else f" (effective {effective})")
        why = row.get("cause") or "-"
        who = f" by {row['source']}" if row.get("source") else ""
        since = f" since {_iso(int(row['since_ms']))}" if row.get("since_ms") else ""
        lines.append(f"{scope:<8} {shown:<28} {why}{who}{since}")
    kill = daemon is TradingState.HALTED and str(states["daemon"].get("cause", "")).startswith(
        "kill switch"
    )
    lines.append(f"kill switch: {'ON' if kill else 'off'}")
    lines.append(f"daemon: {'running' if alive['running'] else 'not running'} ({alive['detail']})")
    return "\n".join(lines)


def _state(name: Any) -> TradingState:
    try:
        return TradingState(str(name or "ACTIVE"))
    except ValueError:
        return TradingState.HALTED


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
