"""Fixtures: a fake Bot API server on loopback and a notifier pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from kinetic.notify.alerts import AlertFeed, AlertQueue
from kinetic.notify.telegram.bot import TelegramNotifier
from kinetic.notify.telegram.client import BotApi
from tests.fake_telegram import TOKEN, FakeTelegram

CHAT = 4242
OTHER_CHAT = 999


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


def make_api(fake: FakeTelegram, timeout_s: float = 10.0) -> BotApi:
    return BotApi(fake.url, SecretStr(TOKEN), timeout_s=timeout_s)


def make_notifier(
    fake: FakeTelegram, clock: object, *, router: object = None, size: int = 50, **kw: object
) -> tuple[TelegramNotifier, AlertFeed]:
    queue = AlertQueue(size)
    notifier = TelegramNotifier(
        make_api(fake),
        (CHAT,),
        queue,
        router,
        clock,
        poll_timeout_s=5,
        **kw,  # type: ignore[arg-type]
    )
    return notifier, AlertFeed(queue)
