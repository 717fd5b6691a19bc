"""Run ONE fake venue as its own process (the sandbox and the crash harness use it).

    python -m kinetic.venues.fakes.serve --venue binance_spot --port 0 \\
        [--candles FILE.csv.gz ...] [--speed 1] [--cash 100000] [--state-file PATH]

Venues: ``binance_spot``, ``binance_usdm``, ``kraken_spot``, ``kraken_futures``. Once
listening it prints one JSON line on stdout::

    {"venue", "rest", "ws", "api_key", "api_secret", "pid", "control", "venue_urls"}

``ws`` is the market-data stream URL, ``control`` the base of the control API
(``kinetic.venues.fakes.control``) and ``venue_urls`` the ``KINETIC_VENUE_URLS`` entries
that point a daemon at this venue. It stops cleanly on SIGTERM or SIGINT (exit 0).

Candles (default: the shipped ``data/replay/<spot|futures>/*.csv.gz``) drive the prices
and klines at ``--speed`` market seconds per wall second (``kinetic.venues.fakes.tape``);
symbols the venue lists without a file follow BTC's (or ETH's) path, scaled to a
plausible price. The test account holds ``--cash`` USDT (USD on Kraken Futures). With
``--state-file`` the control API's state is written there (JSON, replaced atomically)
every second it changed and on exit.

Only loopback hosts are accepted: this process must never face a network.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kinetic.clock import RealClock
from kinetic.venues.fakes import binance_server
from kinetic.venues.fakes.binance_server import FakeBinance
from kinetic.venues.fakes.kraken_futures_server import FakeKrakenFutures
from kinetic.venues.fakes.kraken_server import FakeKrakenSpot
from kinetic.venues.fakes.tape import Tape
from kinetic.venues.kraken.symbols import common_asset, futures_symbol

VENUES = ("binance_spot", "binance_usdm", "kraken_spot", "kraken_futures")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
KRAKEN_KEY = "fake-kraken-spot-key"
KRAKEN_SECRET = base64.b64encode(b"fake-kraken-spot-secret-0123456789").decode()
KRAKEN_FUTURES_KEY = "fake-kraken-futures-key"
KRAKEN_FUTURES_SECRET = base64.b64encode(b"fake-kraken-futures-secret-012345").decode()
# symbols without a candle file: (source symbol, price at start, decimals)
DERIVED = {
    "BTCUSDT": ("ETHUSDT", Decimal(100000), 2),
    "ETHUSDT": ("BTCUSDT", Decimal(4000), 2),
    "SOLUSDT": ("BTCUSDT", Decimal(180), 2),
    "BNBUSDT": ("BTCUSDT", Decimal(900), 2),
    "XRPUSDT": ("BTCUSDT", Decimal("2.5"), 4),
}
Server = FakeBinance | FakeKrakenSpot | FakeKrakenFutures


@dataclass(frozen=True, slots=True)
class Options:
    venue: str
    host: str
    port: int
    candles: list[Path]
    speed: float
    cash: Decimal
    state_file: Path | None
    exit_with_parent: bool = False
    parent_pid: int = 0  # the parent at start-up (watched with --exit-with-parent)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Read the command line (exits 2 with one line on a bad value)."""
    p = argparse.ArgumentParser(prog="python -m kinetic.venues.fakes.serve")
    p.add_argument("--venue", required=True, choices=VENUES)
    p.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="0 = a free port (default)")
    p.add_argument(
        "--candles",
        action="append",
        type=Path,
        help="candle file (repeatable; default: data/replay/<spot|futures>/*.csv.gz)",
    )
    p.add_argument("--speed", type=float, default=1.0, help="market seconds per wall second")
    p.add_argument("--cash", type=Decimal, default=Decimal(100000), help="test account funds")
    p.add_argument("--state-file", type=Path, help="write the venue state (JSON) here")
    p.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process is gone"
    )
    parent = os.getppid()  # before anything slow: the parent may die while we start
    a = p.parse_args(argv)
    if a.host not in LOOPBACK_HOSTS:
        p.error(f"--host {a.host}: only loopback hosts are allowed ({', '.join(LOOPBACK_HOSTS)})")
    if not a.speed > 0:
        p.error("--speed must be > 0")
    if not a.cash > 0:
        p.error("--cash must be > 0")
    files = a.candles or default_candle_files(a.venue)
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        p.error(f"candle files not found: {', '.join(missing) or 'data/replay has none'}")
    host = "127.0.0.1" if a.host == "localhost" else a.host
    flags = (a.state_file, a.exit_with_parent, parent)
    return Options(a.venue, host, a.port, files, a.speed, a.cash, *flags)


def default_candle_files(venue: str) -> list[Path]:
    """The shipped replay data of the venue's market (spot or futures)."""
    market = "spot" if venue.endswith("spot") else "futures"
    roots = [Path.cwd() / "data" / "replay", Path(__file__).resolve().parents[4] / "data/replay"]
    for root in roots:
        files = sorted([*(root / market).glob("*.csv*"), *(root / market).glob("*.parquet")])
        if files:
            return files
    return []


def build_server(opts: Options) -> tuple[Server, str, str]:
    """Create the fake (not started), its tape and funding; return it with its keys."""
    tape = Tape.from_files(opts.candles, speed=opts.speed, derived=DERIVED)
    server: Server
    if opts.venue.startswith("binance"):
        server = FakeBinance(futures=opts.venue == "binance_usdm", clock=RealClock())
        server.tape = tape
        key, secret = binance_server.API_KEY, binance_server.API_SECRET
    elif opts.venue == "kraken_spot":
        server = FakeKrakenSpot(KRAKEN_KEY, KRAKEN_SECRET, clock=RealClock())
        server.tape, key, secret = tape, KRAKEN_KEY, KRAKEN_SECRET
        server.tape_names = _kraken_spot_names(server, tape)
    else:
        server = FakeKrakenFutures(KRAKEN_FUTURES_KEY, KRAKEN_FUTURES_SECRET, clock=RealClock())
        server.tape, key, secret = tape, KRAKEN_FUTURES_KEY, KRAKEN_FUTURES_SECRET
        server.tape_names = _kraken_futures_names(server, tape)
    if isinstance(server, FakeBinance):
        server.book.fund(opts.cash)
    else:
        server.fund(opts.cash)
    return server, key, secret


def _kraken_spot_names(server: FakeKrakenSpot, tape: Tape) -> dict[str, str]:
    out = {}
    for key, pair in server.pairs.items():
        name = common_asset(pair["base"]) + "USDT"  # USD pairs follow the USDT series
        if name in tape.series:
            out[key] = name
    return out


def _kraken_futures_names(server: FakeKrakenFutures, tape: Tape) -> dict[str, str]:
    out = {}
    for inst in server.instruments:
        symbol = str(inst["symbol"])
        common = futures_symbol(symbol.replace("PI_", "PF_"))
        if common is not None and common + "T" in tape.series:
            out[symbol] = common + "T"
    return out


def endpoints(venue: str, rest: str, ws: str) -> tuple[str, dict[str, str]]:
    """The market-stream URL and the ``venue_urls`` entries for one venue."""
    if venue == "binance_spot":
        urls = {
            "binance_spot_rest": rest,
            "binance_spot_ws": f"{ws}/stream",
            "binance_spot_ws_api": f"{ws}/ws-api/v3",
        }
        return urls["binance_spot_ws"], urls
    if venue == "binance_usdm":
        urls = {
            "binance_futures_rest": rest,
            "binance_futures_ws": f"{ws}/market/stream",
            "binance_futures_private": f"{ws}/private/ws",
        }
        return urls["binance_futures_ws"], urls
    if venue == "kraken_spot":
        urls = {
            "kraken_spot_rest": rest,
            "kraken_spot_ws": f"{ws}/v2",
            "kraken_spot_ws_auth": f"{ws}/v2-auth",
        }
        return urls["kraken_spot_ws"], urls
    urls = {"kraken_futures_rest": rest, "kraken_futures_ws": f"{ws}/ws/v1"}
    return urls["kraken_futures_ws"], urls


def _base_urls(server: Server) -> tuple[str, str]:
    if isinstance(server, FakeBinance):
        return server.url, server.ws_url
    return server.base_url, server.ws_url


async def serve(opts: Options, stop: asyncio.Event) -> None:
    """Start the venue, announce it on stdout, follow the tape until ``stop`` is set."""
    server, key, secret = build_server(opts)
    await server.start(opts.host, opts.port)
    rest, ws = _base_urls(server)
    stream, urls = endpoints(opts.venue, rest, ws)
    hello = {
        "venue": opts.venue,
        "rest": rest,
        "ws": stream,
        "api_key": key,
        "api_secret": secret,
        "pid": os.getpid(),
        "control": f"{rest}/_fake",
        "venue_urls": urls,
    }
    try:
        await server.tape_tick()
        sys.stdout.write(json.dumps(hello) + "\n")
        sys.stdout.flush()
        await _follow(server, opts, stop)
    finally:
        if opts.state_file is not None:
            _write_state(server, opts.state_file, None)
        await server.stop()


async def _follow(server: Server, opts: Options, stop: asyncio.Event) -> None:
    last_state: str | None = None
    ticks = 0
    while not stop.is_set():
        await server.tape_tick()
        ticks += 1
        if opts.state_file is not None and ticks % 5 == 0:
            last_state = _write_state(server, opts.state_file, last_state)
        if opts.exit_with_parent and os.getppid() != opts.parent_pid:
            return  # the sandbox is gone (even by SIGKILL): no orphan venue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


def _write_state(server: Server, path: Path, previous: str | None) -> str:
    from kinetic.venues.fakes.control import BinanceControl, KrakenFuturesControl, KrakenSpotControl

    control: Any
    if isinstance(server, FakeBinance):
        control = BinanceControl(server)
    elif isinstance(server, FakeKrakenSpot):
        control = KrakenSpotControl(server)
    else:
        control = KrakenFuturesControl(server)
    text = json.dumps(control.state(), default=str)
    if text != previous:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return text


async def _main(opts: Options) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(opts, stop)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m kinetic.venues.fakes.serve``."""
    opts = parse_args(argv)
    try:
        return asyncio.run(_main(opts))
    except OSError as exc:
        print(f"fake venue {opts.venue}: cannot listen: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
