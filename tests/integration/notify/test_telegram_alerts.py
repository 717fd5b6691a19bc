"""Alerts through the fake Bot API: batching, the send interval, 429 retry_after, drops."""

from __future__ import annotations

from decimal import Decimal

from kinetic.clock import ManualClock
from kinetic.domain import ClosedTrade, Fill, PositionSide, Side
from kinetic.notify.alerts import AlertQueue
from tests.fake_telegram import FakeTelegram
from tests.fake_venues.waiting import wait_for
from tests.integration.notify.conftest import CHAT, make_notifier


def _trade(reason: str, pnl: str) -> ClosedTrade:
    return ClosedTrade("futures", "BTCUSDT", PositionSide.LONG, Decimal("0.01"), Decimal(60000),
                       Decimal(58800), 1, 2, Decimal(pnl), Decimal("0.5"), reason, 5)  # fmt: skip


async def test_events_fills_and_stops_become_one_batched_message(fake: FakeTelegram) -> None:
    clock = ManualClock()
    notifier, feed = make_notifier(fake, clock, min_interval_s=0)
    feed.on_event("circuit_breaker", "daily loss 5.20% > 5%", None, {"action": "halt"})
    feed.on_event("config_loaded", "configuration loaded", None, {})  # not alert-worthy
    feed.on_event("trading_state", "spot: ACTIVE -> HALTED (kill switch)", "spot", {})
    feed.on_fill("spot", Fill("t1", "c1", "ETHUSDT", Side.BUY, Decimal("0.5"), Decimal(3000),
                              Decimal("1.5"), "USDT", 1))  # fmt: skip
    feed.on_trade(_trade("stop_loss", "-12.5"))
    await notifier.start()
    try:
        await wait_for(lambda: fake.sent)
        assert len(fake.sent) == 1, fake.texts()
        text = fake.sent[0]["text"]
        assert fake.sent[0]["chat_id"] == CHAT
        lines = text.splitlines()
        assert len(lines) == 4, lines
        assert "circuit_breaker: daily loss 5.20% > 5%" in lines[0]
        assert "[spot] trading_state: spot: ACTIVE -> HALTED" in lines[1]
        assert "fill BUY 0.5 ETHUSDT @ 3000" in lines[2]
        assert "STOP HIT BTCUSDT" in lines[3]
        assert "-12.50" in lines[3]
        assert "configuration loaded" not in text
    finally:
        await notifier.stop()


async def test_alerts_wait_out_the_send_interval_then_go_together(fake: FakeTelegram) -> None:
    clock = ManualClock()
    notifier, feed = make_notifier(fake, clock, min_interval_s=3.0)
    await notifier.start()
    try:
        feed.on_event("engine_restart", "spot restart #1", "spot", {})
        await wait_for(lambda: len(fake.sent) == 1 and clock.sleepers >= 1)
        feed.on_event("drift", "cash differs", "futures", {})
        feed.on_event("drift_resolved", "books match the venue again", "futures", {})
        clock.advance(2.9)  # the loop sleeps on the clock: nothing can be sent before 3 s
        assert len(fake.sent) == 1
        assert clock.sleepers >= 1
        clock.advance(0.1)
        await wait_for(lambda: len(fake.sent) == 2)
        second = fake.sent[1]["text"].splitlines()
        assert [("drift: " in s, "drift_resolved: " in s) for s in second] == [
            (True, False), (False, True)
        ]  # fmt: skip
    finally:
        await notifier.stop()


async def test_429_retry_after_is_waited_out_before_the_next_call(fake: FakeTelegram) -> None:
    clock = ManualClock()
    fake.rate_limit("sendMessage", retry_after=7)
    notifier, feed = make_notifier(fake, clock, min_interval_s=0)
    feed.on_event("started", "orchestrator started engines ['spot']", None, {})
    await notifier.start()
    try:
        await wait_for(lambda: fake.count("sendMessage") == 1 and clock.sleepers >= 1)
        assert fake.sent == []  # the first call was refused with 429
        clock.advance(6.9)  # a retry before retry_after would be a second call now
        assert fake.count("sendMessage") == 1
        clock.advance(0.2)
        await wait_for(lambda: len(fake.sent) == 1)
        assert "orchestrator started" in fake.sent[0]["text"]
        assert notifier.sent == 1
        assert notifier.failed == 0
    finally:
        await notifier.stop()


async def test_network_errors_are_retried_with_growing_backoff(fake: FakeTelegram) -> None:
    from tests.fake_venues.fast_clock import FastClock

    clock = FastClock()
    notifier, feed = make_notifier(fake, clock, min_interval_s=0)
    await fake.stop()  # nothing listens: every call is a connection error
    feed.on_event("shutdown", "orchestrator stopped cleanly", None, {})
    await notifier.start()
    try:
        await wait_for(lambda: notifier.failed == 1, deadline_seconds=20)
        assert clock.sleeps[:4] == [1.0, 2.0, 4.0, 8.0]
    finally:
        await notifier.stop()


def test_full_queue_drops_the_oldest_and_counts() -> None:
    from kinetic.notify.alerts import Alert

    queue = AlertQueue(3)
    for i in range(5):
        queue.put(Alert("x", f"alert {i}"))
    assert queue.dropped == 2
    assert len(queue) == 3
    assert [a.text for a in queue.take(10_000)] == ["alert 2", "alert 3", "alert 4"]


async def test_dropped_alerts_are_reported_in_the_next_message(fake: FakeTelegram) -> None:
    clock = ManualClock()
    notifier, feed = make_notifier(fake, clock, min_interval_s=0, size=10)
    for i in range(15):
        feed.on_event("engine_restart", f"spot restart #{i}", "spot", {})
    await notifier.start()
    try:
        await wait_for(lambda: fake.sent)
        lines = fake.sent[0]["text"].splitlines()
        assert "restart #5" in lines[0]
        assert "restart #14" in lines[9]
        assert lines[10] == "(5 older alerts dropped: queue full)"
    finally:
        await notifier.stop()
