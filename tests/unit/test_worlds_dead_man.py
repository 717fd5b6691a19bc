"""The venues' cancel-all-after timer: off by default (it would cancel the stops too)."""

from __future__ import annotations

import asyncio

from config import UnifiedConfig
from kinetic.clock import ManualClock
from kinetic.marketdata.live import LiveFeed
from kinetic.worlds import VenueWorld


class TimerClient:
    """A venue client that records its dead-man timer settings."""

    def __init__(self) -> None:
        self.timeouts: list[int] = []

    async def set_dead_man_switch(self, timeout_seconds: int) -> None:
        self.timeouts.append(timeout_seconds)

    async def close(self) -> None:
        return None


async def _run(timeout_s: int) -> TimerClient:
    clock = ManualClock()
    client = TimerClient()
    world = VenueWorld("live", clock, LiveFeed({}), dead_man_timeout_s=timeout_s)
    world.clients["futures"] = client
    world.start()
    for _ in range(3):
        await asyncio.sleep(0)
        clock.advance(timeout_s / 3 if timeout_s else 60)
    await asyncio.sleep(0)
    await world.stop()
    return client


def test_dead_man_switch_default_is_off() -> None:
    assert UnifiedConfig().dead_man_switch_seconds == 0


async def test_live_world_when_timer_off_then_never_armed() -> None:
    client = await _run(0)
    assert client.timeouts == []


async def test_live_world_when_timer_set_then_refreshed_and_disarmed_on_stop() -> None:
    client = await _run(90)
    assert client.timeouts[0] == 90
    assert client.timeouts.count(90) >= 2  # refreshed every third of the timeout
    assert client.timeouts[-1] == 0  # a clean stop must not let it cancel the stops later
