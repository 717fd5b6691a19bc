"""``python main.py data download|import|check|list``: the CLI over ``ops.data``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config import EnvConfig, UnifiedConfig
from kinetic.clock import RealClock
from kinetic.marketdata.files import INTERVAL_MS
from kinetic.ops import data, data_check

EXIT_USAGE = 2
DEFAULT_DIR = "data/downloads"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", required=True)
    dl = sub.add_parser("download", help="download closed candles from a venue (resumable)")
    dl.add_argument("--venue", required=True, choices=sorted(data.VENUES))
    dl.add_argument("--symbols", required=True, help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    dl.add_argument("--interval", default="5m", choices=sorted(INTERVAL_MS))
    dl.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD (UTC) or epoch ms")
    dl.add_argument("--to", dest="end", help="YYYY-MM-DD (UTC) or epoch ms (default: now)")
    dl.add_argument("--dir", default=DEFAULT_DIR, help=f"output folder (default {DEFAULT_DIR})")
    dl.add_argument(
        "--kinds",
        default="candles",
        help="comma-separated: candles, mark (mark-price candles), funding (funding rates); "
        "mark and funding need a futures venue (default candles)",
    )
    imp = sub.add_parser("import", help="import a Binance archive CSV/ZIP or freqtrade JSON")
    imp.add_argument("file")
    imp.add_argument("--symbol", required=True)
    imp.add_argument("--interval", required=True, choices=sorted(INTERVAL_MS))
    imp.add_argument("--venue", default="imported", help="sub-folder name (default imported)")
    imp.add_argument("--dir", default=DEFAULT_DIR)
    chk = sub.add_parser("check", help="gaps, duplicates, time order and OHLC sanity")
    chk.add_argument("files", nargs="+")
    chk.add_argument("--json", action="store_true")
    lst = sub.add_parser("list", help="candle files under a folder, with their span")
    lst.add_argument("--dir", default="data")
    lst.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, config: UnifiedConfig, env: EnvConfig) -> int:
    try:
        if args.data_command == "download":
            return asyncio.run(_download(args, config, env))
        if args.data_command == "import":
            return _import(args)
        if args.data_command == "check":
            return _check(args)
        return _list(args)
    except _UsageError as exc:
        print(f"kinetic data: {exc}", file=sys.stderr)
        return EXIT_USAGE


class _UsageError(ValueError):
    pass


def _time_ms(text: str, name: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        raise _UsageError(f"{name}: {text!r} is not YYYY-MM-DD or epoch milliseconds") from None


async def _download(args: argparse.Namespace, config: UnifiedConfig, env: EnvConfig) -> int:
    from kinetic.venues.base.errors import VenueError
    from kinetic.venues.factory import Keys, make_client, venue_urls

    start = _time_ms(args.start, "--from")
    end = _time_ms(args.end, "--to") if args.end else int(RealClock().time() * 1000)
    if end <= start:
        raise _UsageError("--to must be after --from")
    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    if not symbols:
        raise _UsageError("--symbols: give at least one symbol")
    kinds = _kinds(args.kinds, args.venue)
    venue, market = data.VENUES[args.venue]
    urls = venue_urls(config, env, live=False)
    client = make_client(venue, market, RealClock(), urls, Keys(), config.venue_state_dir)
    root = Path(args.dir)
    try:
        for kind in kinds:
            progress = data.Progress(end - start, _progress_printer(kind))
            written = await data.download(
                client, args.venue, symbols, args.interval, start, end, root, progress, kind
            )
            if sys.stderr.isatty():
                print(file=sys.stderr)
            for symbol, n in written.items():
                path = data.file_for(root, args.venue, symbol, args.interval, kind)
                print(f"{symbol}: {n} {_NOUN[kind]} written to {path}")
    except VenueError as exc:
        print(f"\nkinetic data: download stopped: {exc} (rerun to resume)", file=sys.stderr)
        return 1
    finally:
        await client.close()
    return 0


_NOUN = {"candles": "candles", "mark": "mark-price candles", "funding": "funding rates"}


def _kinds(text: str, venue: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in data.KINDS]
    if unknown or not kinds:
        raise _UsageError(f"--kinds: {text!r}: choose from {', '.join(data.KINDS)}")
    spot_only = data.VENUES[venue][1] != "futures"
    futures_only = [k for k in kinds if k in data.FUTURES_KINDS]
    if spot_only and futures_only:
        raise _UsageError(
            f"--kinds: {futures_only[0]} needs a futures venue (binance-futures, kraken-futures)"
        )
    return list(dict.fromkeys(kinds))


def _progress_printer(kind: str) -> Any:
    def report(symbol: str, done: float, rows: int) -> None:
        if sys.stderr.isatty():
            width = 30
            bar = "#" * int(done * width)
            print(f"\r{symbol:<10} [{bar:<{width}}] {done:6.1%} {rows} {_NOUN[kind]}", end="",
                  file=sys.stderr, flush=True)  # fmt: skip

    return report


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise _UsageError(f"{path}: no such file")
    try:
        n = data.import_file(path, args.symbol, args.interval, Path(args.dir), args.venue)
    except (ValueError, OSError) as exc:
        raise _UsageError(str(exc)) from None
    out = data.file_for(Path(args.dir), args.venue, args.symbol, args.interval)
    print(f"{args.symbol.upper()}: {n} candles written to {out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    reports = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise _UsageError(f"{path}: no such file")
        reports.append(data_check.check_file(path))
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=1))
    else:
        for r in reports:
            verdict = "ok" if r.ok else "PROBLEMS"
            print(f"{r.path}: {verdict}: {r.rows} rows, interval {r.interval_ms} ms, "
                  f"{len(r.gaps)} gaps, {r.duplicates} duplicates, {r.backwards} backwards, "
                  f"{r.bad_ohlc} bad OHLC, {r.unreadable} unreadable")  # fmt: skip
            for after, missing in r.gaps[:10]:
                print(f"  gap after {_iso(after)}: {missing} candles missing")
    return 0 if all(r.ok for r in reports) else 1


def _list(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not root.is_dir():
        raise _UsageError(f"{root}: no such folder")
    files = data_check.list_files(root)
    if args.json:
        print(json.dumps(files, indent=1))
        return 0
    for f in files:
        span = f"{_iso(f['first_ms'])} .. {_iso(f['last_ms'])}" if f["rows"] else "empty"
        print(f"{f['path']}: {f['rows']} rows, {span}" + ("" if f["ok"] else "  (check it)"))
    return 0


def _iso(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
