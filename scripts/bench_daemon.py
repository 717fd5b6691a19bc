"""Daemon benchmarks (issue 2): start-up to first heartbeat, idle RSS, replay throughput.

Usage: python scripts/bench_daemon.py [--rss-minutes 5] [--skip-rss]

* start-up: wall time from spawning `python main.py run` to both engines' first
  heartbeat in the database (includes interpreter start and imports).
* RSS: resident set size of that daemon after N minutes of replay at the default speed.
* throughput: closed candles per second through the full engine path (feed ->
  SimExchange + CandleStore -> engine scan -> strategy -> risk -> OMS -> SQLite), in
  process, with the replay clock running as fast as the engines keep up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def _heartbeats(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "select count(*) from engine_state where last_heartbeat is not null"
            ).fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_startup_and_rss(rss_minutes: float, skip_rss: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "main.py", "run", "--db", str(db)],
            cwd=ROOT,
            env={**os.environ, "KINETIC_API_PORT": "0"},  # the API on a free port, not 8080
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while _heartbeats(db) < 2:
                if proc.poll() is not None:
                    raise SystemExit(f"daemon exited early with {proc.returncode}")
                if time.monotonic() - t0 > 120:
                    raise SystemExit("no heartbeat within 120 s")
                time.sleep(0.02)
            startup = time.monotonic() - t0
            print(f"startup_to_first_heartbeat_s: {startup:.2f}")
            print(f"rss_after_startup_mb: {_rss_mb(proc.pid):.1f}")
            if not skip_rss:
                deadline = time.monotonic() + rss_minutes * 60
                peak = 0.0
                while time.monotonic() < deadline:
                    peak = max(peak, _rss_mb(proc.pid))
                    time.sleep(1)
                print(f"rss_after_{rss_minutes:g}_min_replay_mb: {_rss_mb(proc.pid):.1f}")
                print(f"rss_peak_during_replay_mb: {peak:.1f}  (goal <= 150)")
            t_stop = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            print(f"sigterm_to_exit_s: {time.monotonic() - t_stop:.2f} (exit code {code})")
        finally:
            if proc.poll() is None:
                proc.kill()


async def _throughput() -> None:
    """Step the real engines in lock-step with the replay feed, as fast as they go.

    Each recorded candle is published (SimExchange.on_candle + CandleStore), then every
    engine runs one scan step and one monitor step: strategy, risk, OMS journal and
    SQLite writes included. This is the daemon's engine path without the clock pacing.
    """
    from config import EnvConfig, load_config
    from kinetic.app import Daemon
    from kinetic.logging import configure_logging

    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(environ={}).model_copy(update={"stale_tolerance_seconds": 10**9})
        daemon = Daemon(config, EnvConfig(), database_url=f"sqlite+aiosqlite:///{tmp}/t.db")
        await daemon.build()
        assert daemon.world is not None
        assert daemon.orchestrator is not None
        feed, engines = daemon.world.feed, list(daemon.orchestrator.engines.values())
        feed.prime(config.replay_warmup_candles)
        for e in engines:
            await e.startup()  # type: ignore[attr-defined]
        published = 0
        t0 = time.perf_counter()
        while (due := feed.next_due_ms()) is not None:
            published += feed.publish_due(due)
            for e in engines:
                await e.scan_once()  # type: ignore[attr-defined]
                await e.monitor_once()  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - t0
        seen = sum(e.candles_seen for e in engines)  # type: ignore[attr-defined]
        fills = sum(e.d.positions.fill_count for e in engines)  # type: ignore[attr-defined]
        await daemon.db.close()
        print(f"replay_candles_published: {published}  seen_by_engines: {seen}  fills: {fills}")
        print(f"replay_elapsed_s: {elapsed:.2f}")
        print(f"replay_throughput_candles_per_s: {seen / elapsed:,.0f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--rss-minutes", type=float, default=float(os.environ.get("BENCH_RSS_MINUTES", 5))
    )
    p.add_argument("--skip-rss", action="store_true")
    args = p.parse_args()
    print("== kinetic daemon benchmark ==")
    bench_startup_and_rss(args.rss_minutes, args.skip_rss)
    asyncio.run(_throughput())


if __name__ == "__main__":
    main()
