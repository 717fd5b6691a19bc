"""Crash harness: SIGKILL a live daemon at random points against out-of-process fake venues.

    python scripts/chaos.py --trials 300 --seed 7 --json

The fake venues (``python -m kinetic.venues.fakes.serve``) run as their own processes for
the whole run, so what they hold outlives every daemon. Each trial:

1. starts the daemon in live mode (``main.py run --mode live --live``) on the run's
   database, armed with a crash point (``KINETIC_TEST_CRASH_AT``, see
   ``kinetic.execution.crashpoints``) or a kill timer, and injects one venue or journal
   fault (5xx, a timeout or a dropped connection after the venue accepted an order, a
   stop cancelled by hand, a position closed by hand, a locked journal);
2. waits until the daemon is dead (crash point) or kills it with SIGKILL (timer);
3. restarts it on the same database without faults, waits for the start-up takeover and
   one protection pass, and checks: no client id sent twice (``duplicates``), no order on
   the venue that the journal never held (``unjournaled``), no open order of ours the
   journal does not know (``orphans``), the journal's positions and open orders equal to
   the venue's (``mismatches``); then kills that daemon too.

Throughout, the venues are sampled a few times a second: ``naked_max_s`` is the longest
time any futures position was seen without reduce-only stops covering its size.
Lanes: ``binance`` (Binance spot + USD-M) and ``kraken`` (Kraken Futures) alternate,
each on its own database. The last stdout line is one JSON object (with ``--json``) with
``trials, kills, faults, duplicates, unjournaled, orphans, naked_max_s, mismatches``
and the details of every problem found. Exit 0 when all counts are zero and
``naked_max_s`` is within the grace period, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CRASH_POINTS = ("before_send", "after_send", "after_fill", "before_stop", "before_close_filled")
VENUE_FAULTS = ("500", "503", "hang_after_accept", "drop_after_accept")
OTHER_FAULTS = ("cancel_stops", "close_position", "manual_open", "journal_lock", "none")
OPEN = ("PENDING", "NEW", "PARTIALLY_FILLED", "UNKNOWN")
PROBLEMS = ("duplicates", "unjournaled", "orphans", "mismatches")
LANES = {
    "binance": {
        "venues": ("binance_spot", "binance_usdm"),
        "futures": "binance_usdm",
        # both engines (the default config runs futures only since issue 15)
        "config": {"spot_venue": "binance", "futures_venue": "binance", "spot_enabled": True},
    },
    "kraken": {
        "venues": ("kraken_futures",),
        "futures": "kraken_futures",
        "config": {
            "futures_venue": "kraken",
            "spot_enabled": False,
            "futures_watchlist": ["BTCUSD", "ETHUSD", "SOLUSD"],
        },
    },
}
ORDER_PATHS = {
    "binance_usdm": "/fapi/v1/order",
    "binance_spot": "/api/v3/order",
    "kraken_futures": "/derivatives/api/v3/sendorder",
}


# ---------------------------------------------------------------------- venues
@dataclass
class Venue:
    name: str
    info: dict[str, Any]
    proc: subprocess.Popen[bytes]

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.info['control']}/{path}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def state(self) -> dict[str, Any]:
        return dict(self.call("state"))


def start_venue(name: str, speed: float, logs: Path) -> Venue:
    cmd = [PY, "-m", "kinetic.venues.fakes.serve", "--venue", name, "--port", "0"]
    cmd += ["--speed", str(speed), "--cash", "100000"]
    err = (logs / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, preexec_fn=die_with_parent
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"chaos: fake venue {name} did not start (see {logs}/{name}.log)")
    return Venue(name, json.loads(line), proc)


def die_with_parent() -> None:
    """In a child: SIGKILL when the harness dies (killed by a test timeout, say), so no fake
    venue or daemon outlives it (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------- daemon
def daemon_env(venues: list[Venue], config_path: Path, crash_at: str | None) -> dict[str, str]:
    urls: dict[str, str] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINETIC_")}
    for v in venues:
        urls.update(v.info["venue_urls"])
        if v.name.startswith("binance"):
            env["BINANCE_API_KEY"], env["BINANCE_API_SECRET"] = (
                v.info["api_key"],
                v.info["api_secret"],
            )
        elif v.name == "kraken_futures":
            env["KRAKEN_FUTURES_API_KEY"] = v.info["api_key"]
            env["KRAKEN_FUTURES_API_SECRET"] = v.info["api_secret"]
    env.update(
        KINETIC_VENUE_URLS=json.dumps(urls),
        KINETIC_CONFIG=str(config_path),
        BINANCE_TESTNET="false",
        PYTHONUNBUFFERED="1",
        KINETIC_API_PORT="0",  # the REST API on a free port: daemons never collide on 8080
    )
    if crash_at:
        env["KINETIC_TEST_CRASH_AT"] = crash_at
    return env


def write_config(path: Path, lane: str, state_dir: Path, grace_s: float) -> None:
    lines = {
        "timeframe": "5m",
        "futures_scan_interval_seconds": 1,
        "spot_scan_interval_seconds": 1,
        "futures_min_confidence": 0,
        "spot_min_confidence": 0,
        "futures_blacklist_duration_minutes": 0,
        "paper_warmup_candles": 60,
        # trade from the first candles (the issue-15 defaults need 400 candles of EMA
        # and pause a symbol for an hour after a stop-out)
        "strategy_params": {n: {"fast": 20, "slow": 50} for n in ("spot_trend", "futures_regime")},
        "stop_cooldown_minutes": 0,
        # the stop levels the harness was measured with before the walk-forward defaults
        "min_stop_atr": 1.5,
        "futures_atr_stop_multiplier": 4.0,
        "futures_trailing_activation_pct": 4.0,
        "futures_trailing_distance_pct": 2.0,
        "spot_stop_loss_pct": 5.0,
        "spot_position_size_pct": 30.0,
        "protection_grace_seconds": grace_s,
        "drift_check_interval_seconds": 0,
        "global_max_drawdown_pct": 100,
        "global_daily_loss_limit_pct": 100,
        "venue_state_dir": str(state_dir),
        "candle_record_dir": "",
        "log_level": "INFO",
        **LANES[lane]["config"],
    }
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in lines.items()))


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    log: Path

    def running(self) -> bool:
        return self.proc.poll() is None

    def ready(self) -> bool:
        return b'"daemon running"' in self.log.read_bytes()


def start_daemon(db: Path | str, env: dict[str, str], log: Path) -> Daemon:
    cmd = [PY, "main.py", "run", "--mode", "live", "--live", "--db", str(db)]
    out = log.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=out, stderr=out, preexec_fn=die_with_parent
    )
    return Daemon(proc, log)


# ---------------------------------------------------------------------- sampling
@dataclass
class NakedWatch:
    """Sample the futures venue; keep the longest stretch a position lacked its stop."""

    venue: Venue
    max_s: float = 0.0
    worst: str = ""
    since: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        try:
            state = self.venue.state()
        except OSError:
            return
        now = time.monotonic()
        naked = set(unprotected(state))
        for symbol in list(self.since):
            if symbol not in naked:
                self._close(symbol, now)
        for symbol in naked:
            self.since.setdefault(symbol, now)

    def from_now(self, symbol: str) -> None:
        """A position traded by hand: no daemon could know it before this start."""
        if symbol in self.since:
            self.since[symbol] = time.monotonic()

    def _close(self, symbol: str, now: float) -> None:
        span = now - self.since.pop(symbol)
        if span > self.max_s:
            self.max_s, self.worst = span, f"{self.venue.name} {symbol}"

    def run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def __enter__(self) -> NakedWatch:
        self._thread = threading.Thread(target=self.run, name="chaos:naked-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        now = time.monotonic()
        for symbol in list(self.since):
            self._close(symbol, now)


def is_stop(order_type: object) -> bool:
    """Binance ``STOP_MARKET``/``STOP``, Kraken Futures ``stp``, Kraken spot ``stop-loss``."""
    kind = str(order_type).lower()
    return "stop" in kind or kind == "stp"


def unprotected(state: dict[str, Any]) -> list[str]:
    """Symbols holding a position without reduce-only stops covering all of it."""
    out = []
    for pos in state["positions"]:
        qty = abs(Decimal(pos["qty"]))
        if qty == 0:
            continue
        exit_side = "sell" if Decimal(pos["qty"]) > 0 else "buy"
        covered = sum(
            (
                Decimal(o["qty"]) - Decimal(o.get("filled") or 0)
                for o in state["open_orders"]
                if o["symbol"] == pos["symbol"]
                and is_stop(o["type"])
                and o["side"] == exit_side
                and o.get("reduce_only", True)
            ),
            Decimal(0),
        )
        if covered < qty:
            out.append(pos["symbol"])
    return out


# ---------------------------------------------------------------------- checks
def journal(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        orders = con.execute("SELECT client_order_id, engine, status FROM orders").fetchall()
        positions = con.execute("SELECT engine, symbol, side, quantity FROM positions").fetchall()
        instance = con.execute("SELECT value FROM installation WHERE key='instance_id'").fetchone()
    finally:
        con.close()
    return {
        "orders": {cid: status for cid, _engine, status in orders},
        "positions": {(e, s): (side, Decimal(q)) for e, s, side, q in positions},
        "instance": instance[0] if instance else "",
    }


def venue_client_ids(state: dict[str, Any]) -> dict[str, set[str]]:
    """Client id -> the venue order ids that carried it (open orders and fills).

    A Binance USD-M stop fills through the regular order that executed the triggered
    algo order: that fill counts under the algo order's clientAlgoId and algoId.
    """
    out: dict[str, set[str]] = {}
    for o in state["open_orders"]:
        out.setdefault(o["client_id"], set()).add(str(o["id"]))
    for f in state["fills"]:
        cid = f.get("algo_client_id") or f.get("client_id")
        if cid:
            out.setdefault(cid, set()).add(str(f.get("algo_id") or f["order_id"]))
    return out


def check(db: Path, venues: list[Venue], futures: Venue) -> dict[str, list[str]]:
    """Compare the journal with every venue after a recovered start."""
    j = journal(db)
    problems: dict[str, list[str]] = {k: [] for k in PROBLEMS}
    for v in venues:
        state = v.state()
        sent_checks(j, state, v.name, problems)
        open_checks(j, state, v.name, "futures" if v is futures else "spot", problems)
        if v is futures:
            problems["mismatches"].extend(position_mismatches(j, state, v.name))
    return problems


def settled_check(
    db: Path, venues: list[Venue], futures: Venue, reads: int = 15
) -> dict[str, list[str]]:
    """``check`` up to ``reads`` times, 1 s apart; a difference counts only if every read shows it.

    The recovered daemon keeps trading while it is checked: an order sent between the
    journal read and the venue read is a race of the reads, and an order whose outcome a
    fault left unknown is looked up again a few seconds later (``resolve_unknown``), and a
    request the venue hangs (a queued ``hang_after_accept``) is answered by the client's
    10 s timeout; so a difference counts only if it lasts 15 reads. A broken journal stays
    broken on every read.
    """
    found = check(db, venues, futures)
    for _ in range(reads - 1):
        if not any(found.values()):
            break
        time.sleep(1.0)
        again = check(db, venues, futures)
        found = {k: [p for p in found[k] if p in set(again[k])] for k in found}
    return found


def sent_checks(
    j: dict[str, Any], state: dict[str, Any], name: str, problems: dict[str, list[str]]
) -> None:
    """Every client id of ours went out once, and only after it was journaled."""
    for cid, order_ids in venue_client_ids(state).items():
        if not cid.startswith("K"):
            continue  # the harness's own manual closes
        if len(order_ids) > 1:
            problems["duplicates"].append(f"{name} {cid}: orders {sorted(order_ids)}")
        if cid not in j["orders"]:
            problems["unjournaled"].append(f"{name} {cid}")


def open_checks(
    j: dict[str, Any],
    state: dict[str, Any],
    name: str,
    engine: str,
    problems: dict[str, list[str]],
) -> None:
    """Open orders: none of ours unknown to the journal, none journaled open but gone."""
    ours = f"{j['instance']}-"
    venue_open = {o["client_id"] for o in state["open_orders"] if ours in o["client_id"]}
    for cid in sorted(venue_open):
        if j["orders"].get(cid) not in OPEN:
            problems["orphans"].append(f"{name} {cid} open; journal {j['orders'].get(cid)}")
    for cid, status in sorted(j["orders"].items()):
        if status in OPEN and cid[1] == engine[0] and cid not in venue_open:
            problems["mismatches"].append(f"{name} {cid}: journal {status}, venue not open")


def position_mismatches(j: dict[str, Any], state: dict[str, Any], name: str) -> list[str]:
    book = {
        s: q * (1 if side == "LONG" else -1)
        for (e, s), (side, q) in j["positions"].items()
        if e == "futures"
    }
    held = {p["symbol"]: Decimal(p["qty"]) for p in state["positions"] if Decimal(p["qty"]) != 0}
    return [
        f"{name} {s}: journal {book.get(s, 0)}, venue {held.get(s, 0)}"
        for s in sorted(set(book) | set(held))
        if book.get(s, Decimal(0)) != held.get(s, Decimal(0))
    ]


# ---------------------------------------------------------------------- faults
@contextmanager
def journal_lock(db: Path, seconds: float) -> Iterator[None]:
    """Hold SQLite's write lock: every journal write of the daemon fails meanwhile."""
    con = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        con.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


def inject(
    fault: str, rng: random.Random, venues: list[Venue], futures: Venue, db: Path
) -> str | None:
    """Inject ``fault``; return the symbol of a trade by hand (``manual_open``), if any."""
    if fault in VENUE_FAULTS:
        v = rng.choice(venues)
        v.call("fault", {"kind": fault, "path": ORDER_PATHS[v.name], "times": 1})
    elif fault == "cancel_stops":
        futures.call("cancel_stops", {})
    elif fault == "close_position":
        held = [p["symbol"] for p in futures.state()["positions"] if Decimal(p["qty"]) != 0]
        if held:
            futures.call("close_position", {"symbol": rng.choice(held)})
    elif fault == "manual_open":
        return manual_open(futures, rng)
    elif fault == "journal_lock":
        with journal_lock(db, rng.uniform(0.5, 2.0)):
            pass


def manual_open(futures: Venue, rng: random.Random) -> str | None:
    """A trade by hand on the futures venue: the daemon must adopt and protect it."""
    import asyncio

    from kinetic.clock import RealClock
    from kinetic.domain import OrderIntent, OrderType, Side
    from kinetic.logging import configure_logging
    from kinetic.venues.binance import BinanceFuturesClient
    from kinetic.venues.kraken.futures import KrakenFuturesClient

    configure_logging("ERROR")
    keys = {"api_key": futures.info["api_key"], "api_secret": futures.info["api_secret"]}
    symbol, qty = rng.choice([("BTCUSDT", "0.05"), ("ETHUSDT", "1")])
    if futures.name == "kraken_futures":
        client: Any = KrakenFuturesClient(RealClock(), base_url=futures.info["rest"], **keys)
        symbol, qty = symbol.replace("USDT", "USD"), qty
    else:
        client = BinanceFuturesClient(RealClock(), base_url=futures.info["rest"], **keys)
    side = rng.choice([Side.BUY, Side.SELL])
    intent = OrderIntent("manual", symbol, side, OrderType.MARKET, Decimal(qty),
                         f"manual-{rng.randrange(10**9)}")  # fmt: skip

    async def place() -> None:
        try:
            await client.place_order(intent)
        finally:
            await client.close()

    try:
        asyncio.run(place())
    except Exception as exc:  # refused, or accepted with the answer lost (a queued fault)
        print(f"chaos: manual trade outcome unknown: {exc}", file=sys.stderr)
    return symbol


def clear_operator_states(db: Path) -> None:
    """What the operator does after reading the events: clear REDUCE_ONLY/HALTED."""
    con = sqlite3.connect(db, timeout=10)
    try:
        with con:
            con.execute(
                "UPDATE trading_states SET state='ACTIVE', cause='cleared by chaos harness'"
            )
    except sqlite3.OperationalError:
        pass  # no table yet (first start)
    finally:
        con.close()


# ---------------------------------------------------------------------- trials
@dataclass
class Totals:
    trials: int = 0
    kills: int = 0
    faults: int = 0
    crash_points: int = 0
    refused_starts: int = 0
    slowest_start_s: float = 0.0
    problems: dict[str, list[str]] = field(
        default_factory=lambda: {
            "duplicates": [],
            "unjournaled": [],
            "orphans": [],
            "mismatches": [],
        }
    )


def wait_until(pred: Any, timeout_s: float, step_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step_s)
    return bool(pred())


def run_trial(
    n: int, rng: random.Random, lane: dict[str, Any], totals: Totals, args: argparse.Namespace
) -> None:
    venues, futures, db, cfg, logs = (
        lane["venues"],
        lane["futures"],
        lane["db"],
        lane["cfg"],
        lane["logs"],
    )
    clear_operator_states(db)
    crash_at = None
    if rng.random() < 0.7:
        crash_at = f"{rng.choice(CRASH_POINTS)}:{rng.randint(1, 3)}"
    daemon = start_daemon(db, daemon_env(venues, cfg, crash_at), logs / f"trial{n:04d}-a.log")
    wait_until(lambda: daemon.ready() or not daemon.running(), 30)
    fault = rng.choice(VENUE_FAULTS + OTHER_FAULTS)
    manual = None
    if daemon.running():
        time.sleep(rng.uniform(0.0, args.max_kill_s / 2))
        if fault != "none" and daemon.running():
            manual = inject(fault, rng, venues, futures, db)
            totals.faults += 1
        wait_until(lambda: not daemon.running(), rng.uniform(0.2, args.max_kill_s))
    if daemon.running():
        stop_process(daemon.proc, signal.SIGKILL)
    elif daemon.proc.returncode == -signal.SIGKILL:
        totals.crash_points += 1
    totals.kills += 1
    recovered = start_daemon(db, daemon_env(venues, cfg, None), logs / f"trial{n:04d}-b.log")
    if manual is not None:  # a trade by hand: the takeover of this start must protect it
        lane["watch"].from_now(manual)
    t0 = time.monotonic()
    if not wait_until(lambda: recovered.ready() or not recovered.running(), 120):
        totals.problems["mismatches"].append(f"trial {n}: recovered daemon not ready in 120 s")
    totals.slowest_start_s = max(totals.slowest_start_s, time.monotonic() - t0)
    if not recovered.running():
        totals.refused_starts += 1
        totals.problems["mismatches"].append(f"trial {n}: start refused (see {recovered.log})")
        return
    time.sleep(args.settle_s)  # takeover done; one protection pass and fill sync
    for kind, found in settled_check(db, venues, futures).items():
        totals.problems[kind].extend(
            f"trial {n} ({crash_at or 'timer'}, {fault}): {p}" for p in found
        )
    stop_process(recovered.proc, signal.SIGKILL)
    totals.kills += 1
    totals.trials += 1
    counts = {k: len(v) for k, v in totals.problems.items()}
    print(json.dumps({"trial": n, "kills": totals.kills, **counts}), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/chaos.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--lanes", default="binance,kraken")
    p.add_argument("--speed", type=float, default=2400.0, help="candle market seconds per second")
    p.add_argument("--grace", type=float, default=10.0, help="protection_grace_seconds")
    p.add_argument("--max-kill-s", type=float, default=4.0)
    p.add_argument("--settle-s", type=float, default=2.0)
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kinetic-chaos-"))
    totals, lanes, everything = Totals(), [], []
    try:
        for name in args.lanes.split(","):
            lane = make_lane(name, work, args)
            lanes.append(lane)
            everything.extend(lane["venues"])
        watches = [NakedWatch(lane["futures"]) for lane in lanes]
        for lane, watch in zip(lanes, watches, strict=True):
            lane["watch"] = watch
        for w in watches:
            w.__enter__()
        try:
            for n in range(args.trials):
                run_trial(n, rng, lanes[n % len(lanes)], totals, args)
        finally:
            for w in watches:
                w.__exit__()
    finally:
        for v in everything:
            stop_process(v.proc)
    report = summary(totals, watches, args, work)
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    if not args.keep and report["ok"]:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if report["ok"] else 1


def make_lane(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    spec = LANES[name]
    logs = work / name
    logs.mkdir(parents=True)
    venues = [start_venue(v, args.speed, logs) for v in spec["venues"]]
    futures = next(v for v in venues if v.name == spec["futures"])
    cfg = logs / "kinetic.yaml"
    write_config(cfg, name, logs / "state", args.grace)
    return {
        "venues": venues,
        "futures": futures,
        "db": logs / "kinetic.db",
        "cfg": cfg,
        "logs": logs,
    }


def summary(
    totals: Totals, watches: list[NakedWatch], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    naked = max((w.max_s for w in watches), default=0.0)
    counts = {k: len(v) for k, v in totals.problems.items()}
    ok = all(c == 0 for c in counts.values()) and naked <= args.grace and totals.trials > 0
    return {
        "trials": totals.trials,
        "kills": totals.kills,
        "crash_points_hit": totals.crash_points,
        "faults": totals.faults,
        **counts,
        "naked_max_s": round(naked, 2),
        "slowest_recovery_start_s": round(totals.slowest_start_s, 2),
        "naked_worst": max(watches, key=lambda w: w.max_s).worst if watches else "",
        "grace_s": args.grace,
        "seed": args.seed,
        "ok": ok,
        "work_dir": str(work),
        "details": {k: v[:20] for k, v in totals.problems.items() if v},
    }


if __name__ == "__main__":
    sys.exit(main())
