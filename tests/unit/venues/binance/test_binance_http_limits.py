"""Shared HTTP layer pieces: window limiter, decaying counter, gate, retry, offsets."""

from __future__ import annotations

import random

import pytest

from kinetic.clock import ManualClock
from kinetic.venues.base.errors import VenueHalted
from kinetic.venues.http import (
    ClockOffset,
    DecayingCounter,
    FailureCounter,
    RetryPolicy,
    VenueGate,
    Window,
    WindowLimiter,
)
from tests.fake_venues.fast_clock import FastClock


async def test_window_limiter_when_budget_spent_then_waits_for_next_window() -> None:
    clock = FastClock(start=1_200.0)  # on a minute boundary
    limiter = WindowLimiter(clock, [Window("w", 60, 10, "X-MBX-USED-WEIGHT-1M")])
    await limiter.acquire(8)
    await limiter.acquire(2)
    assert clock.sleeps == []
    await limiter.acquire(1)
    assert clock.sleeps == [60.0]
    assert limiter.used("w") == 1


async def test_window_limiter_when_header_reports_more_then_synced_to_venue_count() -> None:
    clock = FastClock(start=1_200.0)
    limiter = WindowLimiter(
        clock,
        [
            Window("w", 60, 100, "X-MBX-USED-WEIGHT-1M"),
            Window("o", 10, 2, "X-MBX-ORDER-COUNT-10S", True),
        ],
    )
    limiter.on_response({"x-mbx-used-weight-1m": "95", "X-MBX-ORDER-COUNT-10S": "2"})
    assert limiter.used("w") == 95
    await limiter.acquire(1, orders=1)  # order budget full -> next 10 s window
    assert clock.sleeps == [10.0]


async def test_decaying_counter_when_over_max_then_waits_for_decay() -> None:
    clock = FastClock()
    counter = DecayingCounter(clock, max_count=15, decay_per_second=0.5)
    for _ in range(15):
        await counter.acquire(1)
    assert clock.sleeps == []
    await counter.acquire(2)
    assert clock.sleeps == [pytest.approx(4.0)]
    with pytest.raises(ValueError):
        DecayingCounter(clock, max_count=0, decay_per_second=1)


async def test_gate_when_paused_then_never_shortened() -> None:
    clock = ManualClock()
    gate = VenueGate(clock)
    gate.pause(120, ban=True)
    gate.pause(5)
    assert gate.remaining == 120
    assert gate.banned


def test_retry_delay_when_attempts_grow_then_exponential_with_jitter_and_cap() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=8, rng=random.Random(1))
    delays = [policy.delay(a) for a in range(6)]
    bounds = [(0.5, 1), (1, 2), (2, 4), (4, 8), (4, 8), (4, 8)]
    assert all(lo <= d <= hi for d, (lo, hi) in zip(delays, bounds, strict=True))


def test_failure_counter_when_five_in_a_row_then_halted_and_success_resets() -> None:
    counter = FailureCounter("v")
    for _ in range(4):
        counter.failure("x")
    counter.success()
    for _ in range(4):
        counter.failure("x")
    with pytest.raises(VenueHalted):
        counter.failure("x")


async def test_clock_offset_when_server_ahead_then_offset_is_midpoint() -> None:
    clock = ManualClock(start=1000.0)
    offset = ClockOffset(clock)

    async def server() -> int:
        return 1_000_000 + 2_500

    assert await offset.sync(server) == 2_500
    assert offset.now_ms() == 1_002_500
