"""A whole replay daemon with Telegram on: a dead Telegram never slows trading.

The fake Bot API holds every request open (a blackhole). The engines must keep
stepping and filling while the notifier is stuck in its first call: alerts pile up in
the bounded queue, the oldest dropped, nothing waits on them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from config import EnvConfig
from kinetic.app import Daemon
from kinetic.storage import resolve_database_url
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.integration.daemon.support import both_filled, fast_config, fill_counts, wait_until
from tests.integration.notify.conftest import CHAT


def _daemon(tmp_path: Path, fake: FakeTelegram, **overrides: object) -> Daemon:
    path = tmp_path / "kinetic.db"
    config = fast_config(path, telegram_api_url=fake.url, telegram_poll_timeout_seconds=1,
                         **overrides)  # fmt: skip
    env = EnvConfig(telegram_enabled=True, telegram_token=SecretStr(TOKEN),
                    telegram_chat_id=str(CHAT))  # fmt: skip
    return Daemon(config, env, mode="replay", database_url=resolve_database_url(None, str(path)))


async def test_blackholed_telegram_never_holds_up_the_engines(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    fake.blackhole = True
    daemon = _daemon(tmp_path, fake, telegram_alert_queue_size=10)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test:daemon")
    try:
        await wait_until(lambda: fill_counts(daemon.db), both_filled, "fills from both engines",
                         task=task)  # fmt: skip
        notifier = daemon.notifier
        assert notifier is not None
        # engines keep filling until the queue has overflowed: alerts are dropped, not awaited
        counts = await wait_until(
            lambda: fill_counts(daemon.db),
            lambda c: both_filled(c) and notifier.queue.dropped > 0,
            "more fills than the alert queue holds",
            task=task,
        )
        assert sum(counts.values()) > 0
        assert fake.hanging >= 1, "the notifier never called the blackholed Telegram"
        assert fake.sent == []
        assert notifier.sent == 0
        assert len(notifier.queue) <= 10
        assert notifier.queue.accepted > 10
    finally:
        stop.set()
        await task
