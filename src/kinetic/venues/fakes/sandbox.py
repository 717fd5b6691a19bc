"""``python main.py sandbox``: the four fake venues as local processes, for paper and live.

Starts ``binance_spot``, ``binance_usdm``, ``kraken_spot`` and ``kraken_futures`` with
``python -m kinetic.venues.fakes.serve`` on 127.0.0.1 (free ports), prints the settings
that point a daemon at them (``KEY=VALUE`` lines, or with ``--json`` one JSON object on
the first line), then runs until Ctrl-C or SIGTERM and stops every venue process.
A venue that dies stops the sandbox (exit 1). The venues also stop by themselves when
the sandbox process goes away (they watch their parent), so none is left orphaned.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
KEY_NAMES = {
    "binance_spot": ("BINANCE_API_KEY", "BINANCE_API_SECRET"),
    "binance_usdm": ("BINANCE_API_KEY", "BINANCE_API_SECRET"),
    "kraken_spot": ("KRAKEN_API_KEY", "KRAKEN_API_SECRET"),
    "kraken_futures": ("KRAKEN_FUTURES_API_KEY", "KRAKEN_FUTURES_API_SECRET"),
}


class SandboxError(RuntimeError):
    """A venue process did not start or died."""


@dataclass
class Venue:
    """One running venue process and what it announced."""

    name: str
    process: subprocess.Popen[str]
    hello: dict[str, Any] = field(default_factory=dict)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``sandbox`` subcommand's options."""
    p.add_argument(
        "--candles",
        action="append",
        type=Path,
        help="candle file driving prices (repeatable; default: the shipped data/replay files)",
    )
    p.add_argument("--speed", type=float, default=1.0, help="market seconds per wall second")
    p.add_argument("--json", action="store_true", help="one JSON object on the first line")
    p.add_argument("--cash", type=Decimal, default=Decimal(100000), help="test account funds")


def venue_command(name: str, args: argparse.Namespace) -> list[str]:
    """The command line that runs one venue."""
    cmd = [sys.executable, "-m", "kinetic.venues.fakes.serve", "--venue", name]
    cmd += ["--host", "127.0.0.1", "--port", "0", "--speed", str(args.speed)]
    cmd += ["--cash", str(args.cash), "--exit-with-parent"]
    for path in args.candles or []:
        cmd += ["--candles", str(path)]
    return cmd


def launch(name: str, cmd: list[str]) -> Venue:
    """Start one venue process (its JSON line is read by ``read_hello``)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own module
    return Venue(name, proc)


def read_hello(venue: Venue, deadline: float) -> None:
    """Read the venue's JSON line before ``deadline`` (``time.monotonic()``)."""
    out = venue.process.stdout
    assert out is not None
    ready, _, _ = select.select([out], [], [], max(0.0, deadline - time.monotonic()))
    line = out.readline() if ready else ""
    if not line:
        raise SandboxError(f"venue {venue.name} did not start (exit code {venue.process.poll()})")
    venue.hello = json.loads(line)


def start_all(args: argparse.Namespace, timeout_s: float = START_TIMEOUT_SECONDS) -> list[Venue]:
    """Start the four venues side by side; stop them all if one fails to start."""
    # imported here: main.py's parser imports this module for ``add_arguments``, and the
    # venue servers (aiohttp) would cost every command, a backtest too, about 20 MB of RSS
    from kinetic.venues.fakes.serve import VENUES

    venues = [launch(name, venue_command(name, args)) for name in VENUES]
    deadline = time.monotonic() + timeout_s
    try:
        for venue in venues:
            read_hello(venue, deadline)
    except (SandboxError, ValueError):
        stop_all(venues)
        raise
    return venues


def settings(venues: list[Venue]) -> dict[str, str]:
    """The environment that points a paper or live daemon at the venues."""
    urls: dict[str, str] = {}
    env: dict[str, str] = {}
    for v in venues:
        urls.update(v.hello["venue_urls"])
        key_name, secret_name = KEY_NAMES[v.name]
        env[key_name], env[secret_name] = v.hello["api_key"], v.hello["api_secret"]
    return {"KINETIC_VENUE_URLS": json.dumps(urls, separators=(",", ":")), **env}


def summary(venues: list[Venue]) -> dict[str, Any]:
    """The ``--json`` object: each venue's endpoints and keys, and ``env``."""
    out: dict[str, Any] = {
        v.name: {k: v.hello[k] for k in ("rest", "ws", "api_key", "api_secret", "control", "pid")}
        for v in venues
    }
    out["env"] = settings(venues)
    return out


def render(venues: list[Venue], as_json: bool) -> str:
    """The text printed once every venue listens."""
    if as_json:
        return json.dumps(summary(venues))
    lines = [f"{k}={shlex.quote(v)}" for k, v in settings(venues).items()]
    return "\n".join(lines)


def stop_all(venues: list[Venue], timeout_s: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM every venue process, wait for each, SIGKILL what is left."""
    for v in venues:
        if v.process.poll() is None:
            v.process.terminate()
    deadline = time.monotonic() + timeout_s
    for v in venues:
        try:
            v.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            v.process.kill()
            v.process.wait()
        if v.process.stdout is not None:
            v.process.stdout.close()


def wait_until_stopped(venues: list[Venue], stopping: Callable[[], bool]) -> int:
    """Block until a stop is asked (0) or a venue process dies (1).

    Sleeps in ``select`` on each venue's stdout, which reaches end-of-file when the venue
    exits (after its JSON line a venue writes nothing more), and on the signal wake-up
    pipe (``signal.set_wakeup_fd``), so a dead venue or a signal wakes it at once.
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous = signal.set_wakeup_fd(wake_w)
    pipes = {v.process.stdout.fileno(): v for v in venues if v.process.stdout is not None}
    try:
        while not stopping():
            dead = [v for v in venues if v.process.poll() is not None]
            if dead:
                names = ", ".join(f"{v.name} (exit {v.process.returncode})" for v in dead)
                print(f"kinetic sandbox: venue stopped: {names}", file=sys.stderr)
                return 1
            ready, _, _ = select.select([wake_r, *pipes], [], [])
            for fd in ready:
                if fd == wake_r:
                    os.read(wake_r, 512)
                elif not os.read(fd, 65536):  # end-of-file: the venue is exiting
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        pipes.pop(fd).process.wait(STOP_TIMEOUT_SECONDS)
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_r)
        os.close(wake_w)
    return 0


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print its settings, serve until Ctrl-C or SIGTERM."""
    stop = {"asked": False}

    def on_signal(_sig: int, _frame: object) -> None:
        stop["asked"] = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    venues: list[Venue] = []
    try:
        venues = start_all(args)
        if stop["asked"]:
            return 0
        print(render(venues, args.json), flush=True)
        print(
            f"kinetic sandbox: {len(venues)} venues on 127.0.0.1 (pid {os.getpid()}); "
            "Ctrl-C stops them",
            file=sys.stderr,
        )
        return wait_until_stopped(venues, lambda: stop["asked"])
    except SandboxError as exc:
        print(f"kinetic sandbox: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(venues)
        for s, handler in old.items():
            signal.signal(s, handler)
