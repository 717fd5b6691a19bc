"""BotApi against the fake Bot API: results, error classes, and no token in any error."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from kinetic.notify.telegram.client import BotApi, Rejected, RetryAfter, Unavailable
from kinetic.notify.telegram.schemas import ButtonPress, IncomingMessage
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.integration.notify.conftest import CHAT, make_api


async def test_send_with_buttons_and_read_updates(fake: FakeTelegram) -> None:
    api = make_api(fake)
    await api.start()
    try:
        mid = await api.send_message(CHAT, "hello", (("Confirm", "ok:t"), ("Cancel", "no:t")))
        assert mid == fake.sent[0]["message_id"]
        assert fake.sent[0]["reply_markup"] == {"inline_keyboard": [[
            {"text": "Confirm", "callback_data": "ok:t"},
            {"text": "Cancel", "callback_data": "no:t"}]]}  # fmt: skip
        fake.push_message(CHAT, "/status")
        fake.push_button(CHAT, mid, "ok:t")
        first, second = await api.get_updates(None, 0)
        assert isinstance(first, IncomingMessage)
        assert first.text == "/status"
        assert first.chat_id == CHAT
        assert first.user == "op(7)"
        assert isinstance(second, ButtonPress)
        assert second.data == "ok:t"
        assert second.message_id == mid
        assert await api.get_updates(second.update_id + 1, 0) == []  # confirmed by the offset
    finally:
        await api.close()


async def test_errors_are_classified_and_never_carry_the_token(fake: FakeTelegram) -> None:
    bad = BotApi(fake.url, SecretStr("999:WRONG-token-abcdef"))
    await bad.start()
    try:
        with pytest.raises(Rejected) as rejected:
            await bad.send_message(CHAT, "x")
        assert rejected.value.code == 401
        assert "WRONG-token" not in str(rejected.value)
    finally:
        await bad.close()
    api = make_api(fake)
    await api.start()
    try:
        fake.rate_limit("sendMessage", retry_after=11)
        with pytest.raises(RetryAfter) as limited:
            await api.send_message(CHAT, "x")
        assert limited.value.retry_after == 11
        await fake.stop()
        with pytest.raises(Unavailable) as down:
            await api.send_message(CHAT, "x")
        assert TOKEN not in str(down.value)
        assert TOKEN.split(":")[1] not in repr(down.value)
        assert down.value.__cause__ is None
        assert down.value.__suppress_context__
    finally:
        await api.close()
