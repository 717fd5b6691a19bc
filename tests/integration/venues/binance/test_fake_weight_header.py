"""The fake reports the request weight of the current minute, as Binance does.

A running total in ``X-MBX-USED-WEIGHT-1M`` told the client's limiter that every later
minute was spent already: after a few thousand requests (the crash harness's restarts)
each daemon start stalled for a minute per request batch.
"""

from __future__ import annotations

import aiohttp

from kinetic.clock import ManualClock
from kinetic.venues.fakes.binance_server import FakeBinance


async def test_used_weight_header_counts_the_current_minute_only() -> None:
    clock = ManualClock(1_800_000_000.0)  # a minute boundary
    server = FakeBinance(futures=True, clock=clock)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.get(f"{server.url}/fapi/v1/time") as resp:
                    used = resp.headers["X-MBX-USED-WEIGHT-1M"]
            assert used == "3"
            clock.advance(60)
            async with http.get(f"{server.url}/fapi/v1/time") as resp:
                assert resp.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    finally:
        await server.stop()
