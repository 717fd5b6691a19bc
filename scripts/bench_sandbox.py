"""Sandbox venue benchmark (issue 16): orders per second one venue process sustains, and
its memory after 100,000 orders.

Usage: python scripts/bench_sandbox.py [--orders 100000] [--connections 16]
                                       [--venue binance_spot] [--json]

One fake venue runs as its own process (``python -m kinetic.venues.fakes.serve``, the
sandbox's runner, on 127.0.0.1) with its candle tape. This process is the client: N
aiohttp connections, each placing signed REST orders back to back (Binance spot
``POST /api/v3/order``, HMAC-SHA256 over the form body, the signature in the body; market
orders for the minimum-ish quantity, buy and sell alternating, so every order is
matched, filled and becomes final). Orders per second are counted over the whole run
and per 10,000-order slice (a slowing venue shows in the slices). The venue's resident
memory (``VmRSS`` of ``/proc/<pid>/status``) is read after start-up and at each slice;
the run stops at ``--orders`` or after ``--max-seconds``. Client and venue share the
machine: the rate is what one venue process sustains with this client on the same host.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
SLICE = 10_000


@dataclass
class Run:
    """What one benchmark run measured."""

    orders: int = 0
    errors: int = 0
    seconds: float = 0.0
    rss_start_mb: float = 0.0
    slices: list[dict[str, float]] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def start_venue(venue: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start one venue process and read the JSON line it prints once listening."""
    cmd = [sys.executable, "-m", "kinetic.venues.fakes.serve", "--venue", venue]
    cmd += ["--port", "0", "--cash", "1000000000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"venue {venue} did not start (exit {proc.wait()})")
    return proc, json.loads(line)


class Signer:
    """Binance HMAC signing of a form body (the signature last, in the body)."""

    def __init__(self, key: str, secret: str) -> None:
        self.headers = {"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"}
        self._secret = secret.encode()

    def body(self, params: str) -> str:
        payload = f"{params}&recvWindow=60000&timestamp={int(time.time() * 1000)}"
        sig = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}&signature={sig}"


async def place_orders(
    info: dict[str, Any], pid: int, total: int, connections: int, max_seconds: float
) -> Run:
    """Place ``total`` orders over ``connections`` connections; sample RSS per slice."""
    run = Run(rss_start_mb=rss_mb(pid))
    signer = Signer(info["api_key"], info["api_secret"])
    url = info["rest"] + "/api/v3/order"
    state = {"next": 0, "slice_t": time.perf_counter()}
    started = time.perf_counter()
    deadline = started + max_seconds

    def record_slice(done: int) -> None:
        now = time.perf_counter()
        rate = SLICE / (now - state["slice_t"])
        state["slice_t"] = now
        run.slices.append({"orders": done, "orders_per_s": rate, "rss_mb": rss_mb(pid)})

    async def worker(session: aiohttp.ClientSession) -> None:
        while state["next"] < total and time.perf_counter() < deadline:
            n = state["next"]
            state["next"] = n + 1
            side = "BUY" if n % 2 == 0 else "SELL"
            params = (
                f"symbol=BTCUSDT&side={side}&type=MARKET&quantity=0.001&newClientOrderId=bench{n}"
            )
            async with session.post(url, data=signer.body(params), headers=signer.headers) as r:
                await r.read()
                if r.status != 200:
                    run.errors += 1
            run.orders += 1
            if run.orders % SLICE == 0:
                record_slice(run.orders)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session, asyncio.TaskGroup() as tg:
        for _ in range(connections):
            tg.create_task(worker(session))
    run.seconds = time.perf_counter() - started
    return run


def report(run: Run, venue: str, connections: int, rss_end: float) -> dict[str, Any]:
    """The figures printed (and returned for ``--json``)."""
    return {
        "venue": venue,
        "connections": connections,
        "orders": run.orders,
        "errors": run.errors,
        "seconds": round(run.seconds, 1),
        "orders_per_s": round(run.orders / run.seconds) if run.seconds else 0,
        "rss_start_mb": round(run.rss_start_mb, 1),
        "rss_end_mb": round(rss_end, 1),
        "slices": [{k: round(v, 1) for k, v in s.items()} for s in run.slices],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venue", default="binance_spot", choices=["binance_spot"])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--max-seconds", type=float, default=600.0, help="stop early after this")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    a = p.parse_args()
    proc, info = start_venue(a.venue)
    try:
        run = asyncio.run(place_orders(info, proc.pid, a.orders, a.connections, a.max_seconds))
        out = report(run, a.venue, a.connections, rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(30)
    if a.json:
        print(json.dumps(out))
        return 0
    print(
        f"sandbox venue {out['venue']} (one process, {out['connections']} connections): "
        f"{out['orders']:,} signed orders in {out['seconds']} s = {out['orders_per_s']:,} "
        f"orders/s ({out['errors']} errors)"
    )
    print(
        f"  venue RSS: {out['rss_start_mb']} MB at start, {out['rss_end_mb']} MB after "
        f"{out['orders']:,} orders"
    )
    for s in out["slices"]:
        rate = f"{s['orders_per_s']:>7,.0f} orders/s"
        print(f"  {int(s['orders']):>7,} orders: {rate}, RSS {s['rss_mb']} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
