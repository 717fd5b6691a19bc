"""Control-plane benchmark (issue 12): API latency under load, and whether that load slows
trading.

Usage: python scripts/bench_api.py [--seconds 20] [--clients 50] [--speed 20000]

Two fresh replay daemons run the same recorded candles at the same speed, one after the
other, each for ``--seconds`` of wall time (SQLite, API on a free port):

1. baseline: no API traffic;
2. loaded: ``--clients`` concurrent HTTP clients (an aiohttp client loop in a separate
   process, so it does not share the daemon's event loop or GIL) call
   ``GET /api/portfolio/summary`` back to back.

Reported: the API's p50/p99 latency and requests/s under that load, and in each run the
engines' candle-to-order latency (wall time from the replay feed delivering a candle to
the engine handing an order for that symbol to its OMS; it includes the wait for the
next scan step, as in the daemon), p50/p99, and the loaded/baseline ratio (the control
plane must not slow trading: ~1.0 is the goal).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------------- load client
async def _client(url: str, clients: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for i in range(clients):
                tg.create_task(worker(), name=f"bench:client:{i}")
        elapsed = time.perf_counter() - started
    return {"latencies_s": latencies, "errors": errors, "elapsed_s": elapsed}


def client_main(url: str, clients: int, seconds: float) -> None:
    print(json.dumps(asyncio.run(_client(url, clients, seconds))))


# ---------------------------------------------------------------------- daemon runs
def _instrumented_daemon(config: Any, url: str) -> tuple[Any, list[float]]:
    """A daemon whose feed deliveries and OMS submits are timed (wall clock)."""
    from config import EnvConfig
    from kinetic.app import Daemon

    delivered: dict[tuple[str, str], float] = {}
    samples: list[float] = []

    class TimedDaemon(Daemon):
        def _deliver(self, market: str, candle: Any) -> None:
            super()._deliver(market, candle)
            delivered[(market, candle.symbol)] = time.perf_counter()

        async def build(self) -> None:
            await super().build()
            assert self.orchestrator is not None
            for name, engine in self.orchestrator.engines.items():
                oms: Any = engine.d.oms  # type: ignore[attr-defined]
                submit = oms.submit

                async def timed(intent: Any, _submit: Any = submit, _name: str = name) -> Any:
                    seen = delivered.get((_name, intent.symbol))
                    if seen is not None:
                        samples.append(time.perf_counter() - seen)
                    return await _submit(intent)

                oms.submit = timed

    return TimedDaemon(config, EnvConfig(), mode="replay", database_url=url), samples


async def _run(seconds: float, speed: float, clients: int) -> dict[str, Any]:
    from config import load_config

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(environ={}).model_copy(
            update={"replay_speed": speed, "api_port": 0, "sqlite_path": f"{tmp}/unused.db"}
        )
        daemon, samples = _instrumented_daemon(config, f"sqlite+aiosqlite:///{tmp}/bench.db")
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop), name="bench:daemon")
        while daemon.api is None or not all(
            getattr(e, "ready", False) for e in daemon.orchestrator.engines.values()
        ):
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        samples.clear()  # start-up orders (takeover) are not candle-driven
        if clients:
            url = daemon.api.url + "/api/portfolio/summary"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", url, "--clients", str(clients),
                "--seconds", str(seconds), stdout=subprocess.PIPE,
            )  # fmt: skip
            raw, _ = await proc.communicate()
            out["api"] = json.loads(raw)
        else:
            await asyncio.sleep(seconds)
        stop.set()
        await task
    out["candle_to_order_s"] = list(samples)
    return out


def _ms(v: float) -> str:
    return f"{v * 1000:.2f}"


def report(base: dict[str, Any], loaded: dict[str, Any], clients: int) -> None:
    api = loaded["api"]
    lat = api["latencies_s"]
    print(f"api_summary_clients: {clients}")
    print(f"api_summary_requests: {len(lat)}  errors: {api['errors']}  "
          f"rps: {len(lat) / api['elapsed_s']:,.0f}")  # fmt: skip
    print(f"api_summary_latency_ms: p50 {_ms(pct(lat, 0.5))}  p99 {_ms(pct(lat, 0.99))}  "
          f"max {_ms(max(lat) if lat else float('nan'))}")  # fmt: skip
    b, w = base["candle_to_order_s"], loaded["candle_to_order_s"]
    for name, s in (("no_load", b), ("under_api_load", w)):
        mean = statistics.fmean(s) if s else float("nan")
        print(f"candle_to_order_ms_{name}: n {len(s)}  p50 {_ms(pct(s, 0.5))}  "
              f"p99 {_ms(pct(s, 0.99))}  mean {_ms(mean)}")  # fmt: skip
    if b and w:
        p50, p99 = pct(w, 0.5) / pct(b, 0.5), pct(w, 0.99) / pct(b, 0.99)
        print(f"candle_to_order_ratio_loaded_over_baseline: p50 {p50:.2f}  p99 {p99:.2f}  "
              "(1.0 = the API costs trading nothing)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--speed", type=float, default=20000.0)
    p.add_argument("--client", help=argparse.SUPPRESS)  # internal: run the load client
    args = p.parse_args()
    if args.client:
        client_main(args.client, args.clients, args.seconds)
        return
    from kinetic.logging import configure_logging

    configure_logging("WARNING")
    print("== kinetic control-plane benchmark ==")
    print(f"replay_speed: {args.speed:g}  seconds_per_run: {args.seconds:g}")
    base = asyncio.run(_run(args.seconds, args.speed, 0))
    loaded = asyncio.run(_run(args.seconds, args.speed, args.clients))
    report(base, loaded, args.clients)


if __name__ == "__main__":
    main()
