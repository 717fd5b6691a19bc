"""Backtest cost against run length (issue 13): per-bar cost of 8 months vs 1 month.

The default config (``spot_trend`` on the spot engine, ``futures_regime`` on the futures
engine, every default limit), both engines, three symbols of 5-minute candles. Each
length runs in its own subprocess (``main.py backtest --engine both --json``); the
benchmark prints bars, the driver's microseconds per bar (``elapsed_s`` of the report:
no interpreter start, imports or data loading), the process's CPU time per bar, the bars
fast-forwarded, peak RSS and the ratio of the long run's per-bar driver cost to the
1-month run's (goal: at most 1.3x).

Data (deterministic, written to a temporary directory): three symbols built from the
repository's real 5-minute candles, each extended to the length asked by alternating the
file and its mirror image in time (rows reversed, open and close swapped), re-stamped on
a continuous 5-minute grid from 2021-01-01; prices keep the real range and tick:

* ``BTCUSDT``: data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17 (with the May-2021 crash)
* ``ETHUSDT``: data/replay/spot/ETHUSDT_5m (2025-09-20 .. 2025-11-19)
* ``SOLUSDT``: data/replay/spot/BTCUSDT_5m (2025) divided by 500 (a third, differently
  shaped series at a SOL-like price; the sim's SOLUSDT filters apply)

Usage: python scripts/bench_scaling.py [--months 1 8] [--profile DIR]
(``--months 1 2 4 8 14`` shows the whole curve; ``--profile`` writes a cProfile per run.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR_MS = 300_000
START_MS = 1_609_459_200_000  # 2021-01-01 00:00 UTC
MONTH_BARS = 30 * 288
SOURCES = {
    "BTCUSDT": (ROOT / "data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz", 1.0),
    "ETHUSDT": (ROOT / "data/replay/spot/ETHUSDT_5m.csv.gz", 1.0),
    "SOLUSDT": (ROOT / "data/replay/spot/BTCUSDT_5m.csv.gz", 500.0),
}


def build_series(months: float, out: Path) -> list[Path]:
    """Write ``months`` x 30 days of 5-minute candles per symbol into ``out``."""
    import pandas as pd

    n = int(months * MONTH_BARS)
    paths = []
    for symbol, (source, divisor) in SOURCES.items():
        src = pd.read_csv(source)
        if divisor != 1.0:
            for col in ("open", "high", "low", "close"):
                src[col] = (src[col] / divisor).round(4)
        mirror = src.iloc[::-1].reset_index(drop=True)
        mirror = mirror.rename(columns={"open": "close", "close": "open"})[list(src.columns)]
        parts, total = [], 0
        while total < n:
            parts.append(src if len(parts) % 2 == 0 else mirror)
            total += len(parts[-1])
        df = pd.concat(parts, ignore_index=True).iloc[:n].copy()
        df["timestamp"] = START_MS + pd.RangeIndex(n).to_numpy() * BAR_MS
        path = out / f"{symbol}_5m.csv"
        df.to_csv(path, index=False)
        paths.append(path)
    return paths


def run(months: float, tmp: Path, profile: Path | None, extra: list[str]) -> dict[str, float]:
    folder = tmp / f"m{months:g}"
    folder.mkdir()
    # built in a child process: a forked child's peak RSS (wait4's ru_maxrss) starts at
    # its parent's RSS, so pandas and the frames built here would inflate the figure
    build = [sys.executable, __file__, "--build-only", str(folder), "--months", str(months)]
    subprocess.run(build, check=True)
    cmd = [sys.executable]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        cmd += ["-m", "cProfile", "-o", str(profile / f"scaling_{months:g}m.prof")]
    cmd += ["main.py", "backtest", "--engine", "both", "--symbols", ",".join(SOURCES),
            "--data", str(folder), "--json", "--no-progress", *extra]  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        errors.seek(0)
        err = errors.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"backtest of {months} months failed:\n{err[-2000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    bars = int(months * MONTH_BARS) * len(SOURCES)
    return {
        "months": months,
        "bars": bars,
        "elapsed_s": elapsed,
        "us_per_bar": elapsed / bars * 1e6,
        # CPU time of the whole process (user + system, start-up included): shown because
        # other processes sharing the cores stretch wall time but not (much) CPU time
        "cpu_us_per_bar": (usage.ru_utime + usage.ru_stime) / bars * 1e6,
        # the driver alone (no interpreter start, imports or data loading): the ratio
        "driver_us_per_bar": float(summary["elapsed_s"]) / bars * 1e6,
        "skipped": float(summary.get("skipped_bars", 0)),
        "rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--months", type=float, nargs="+", default=[1.0, 8.0])
    p.add_argument("--profile", type=Path)
    p.add_argument("--no-skip", action="store_true")
    p.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.build_only is not None:  # the child that builds the series (see run)
        build_series(args.months[0], args.build_only)
        return
    extra = ["--no-skip"] if args.no_skip else []
    print("== backtest cost vs run length: default config, both engines, 3 symbols, 5m ==")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for months in args.months:
            r = run(months, Path(tmp), args.profile, extra)
            rows.append(r)
            print(
                f"{months:5g} months: {r['bars']:>9,} bars  {r['elapsed_s']:7.1f} s  "
                f"{r['driver_us_per_bar']:7.1f} us/bar driver  "
                f"{r['cpu_us_per_bar']:7.1f} us/bar process CPU  skipped {r['skipped']:,.0f}  "
                f"peak RSS {r['rss_mb']:6.1f} MB",
                flush=True,
            )
    base = rows[0]["driver_us_per_bar"]
    for r in rows[1:]:
        ratio = r["driver_us_per_bar"] / base
        verdict = "ok" if ratio <= 1.3 else "ABOVE GOAL"
        print(f"per-bar driver cost {r['months']:g} months / {rows[0]['months']:g} month: "
              f"{ratio:.2f}x (goal <= 1.3x: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
