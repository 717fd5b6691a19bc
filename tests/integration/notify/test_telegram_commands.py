"""Telegram commands against a running replay daemon, through the fake Bot API.

Every command from the configured chat is answered (as a reply to it); acting commands
go through ControlService (audit events ``operator`` with via=telegram); kill switch off
and flatten wait for the inline Confirm button; other chats and stale commands are not
answered with an action.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kinetic.app import Daemon
from kinetic.domain import TradingState
from tests.fake_telegram import FakeTelegram
from tests.fake_venues.waiting import wait_for
from tests.integration.daemon.support import both_filled, fill_counts, query, wait_until
from tests.integration.notify.conftest import CHAT, OTHER_CHAT
from tests.integration.notify.test_telegram_daemon import _daemon

REPLY_S = 30.0


@pytest.fixture
async def running(tmp_path: Path, fake: FakeTelegram) -> AsyncIterator[Daemon]:
    daemon = _daemon(tmp_path, fake)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop), name="test:daemon")
    try:
        await wait_until(lambda: fill_counts(daemon.db), both_filled, "fills from both engines",
                         task=task)  # fmt: skip
        yield daemon
    finally:
        stop.set()
        await task


async def ask(fake: FakeTelegram, text: str, **kw: Any) -> dict[str, Any]:
    mid = fake.push_message(CHAT, text, **kw)
    await wait_for(lambda: fake.reply_to(mid), REPLY_S)
    reply = fake.reply_to(mid)
    assert reply is not None
    assert reply["chat_id"] == CHAT
    return reply


async def press(fake: FakeTelegram, reply: dict[str, Any], label: str) -> str:
    row = reply["reply_markup"]["inline_keyboard"][0]
    data = next(b["callback_data"] for b in row if b["text"] == label)
    answered = len(fake.answers)
    fake.push_button(CHAT, reply["message_id"], data)
    await wait_for(lambda: fake.edit_of(reply["message_id"]) and len(fake.answers) > answered,
                   REPLY_S)  # fmt: skip
    edit = fake.edit_of(reply["message_id"])
    assert edit is not None
    return str(edit["text"])


async def test_read_commands_answer_from_the_running_daemon(
    running: Daemon, fake: FakeTelegram
) -> None:
    assert "/killswitch on [reason]" in (await ask(fake, "/help"))["text"]
    status = (await ask(fake, "/status"))["text"]
    assert "daemon ACTIVE" in status
    assert "spot:" in status
    assert "circuit breaker: off" in status
    balance = (await ask(fake, "/balance@KineticBot"))["text"]  # group form: /cmd@bot
    assert "futures: equity" in balance
    assert "total equity" in balance
    assert (await ask(fake, "/pnl"))["text"].startswith("PnL (USD)")
    assert "closed trades" in (await ask(fake, "/daily"))["text"]
    assert (await ask(fake, "/positions"))["text"].split("\n")[0] in (
        "Open positions", "No open positions."
    )  # fmt: skip
    assert "Usage: /trades" in (await ask(fake, "/trades 500"))["text"]
    assert (await ask(fake, "/trades 3"))["text"].split("\n")[0] in (
        "Last 1 closed trades", "Last 2 closed trades", "Last 3 closed trades",
        "No closed trades yet.",
    )  # fmt: skip
    orders = (await ask(fake, "/orders"))["text"]
    assert "Open orders" in orders or "No open orders." in orders
    engines = (await ask(fake, "/engines"))["text"]
    assert "spot: " in engines
    assert "heartbeat" in engines
    assert "Unknown command /moon" in (await ask(fake, "/moon"))["text"]


async def test_other_chats_are_ignored_and_stale_commands_not_carried_out(
    running: Daemon, fake: FakeTelegram
) -> None:
    notifier = running.notifier
    assert notifier is not None
    foreign = fake.push_message(OTHER_CHAT, "/killswitch on intruder")
    stale = await ask(fake, "/killswitch on old", date=int(time.time()) - 600)
    assert stale["text"].startswith("Ignored '/killswitch': sent 6")
    # updates are handled in order: the foreign one was handled before the stale reply
    assert fake.reply_to(foreign) is None
    assert fake.texts(OTHER_CHAT) == []
    assert notifier.ignored == 1
    assert running.control is not None
    assert running.control.status()["kill_switch"] is False


async def test_operator_commands_go_through_control_with_confirm_buttons(
    running: Daemon, fake: FakeTelegram
) -> None:
    states = running.states
    assert states is not None
    assert "spot: entries paused" in (await ask(fake, "/pause spot"))["text"]
    assert states.own("spot").state is TradingState.REDUCE_ONLY
    assert "spot: entries resumed" in (await ask(fake, "/resume spot"))["text"]
    assert states.own("spot").state is TradingState.ACTIVE
    assert "Unknown engine 'moon'" in (await ask(fake, "/pause moon"))["text"]

    assert "kill switch ON" in (await ask(fake, "/killswitch on maintenance"))["text"]
    assert states.own("daemon").state is TradingState.HALTED
    question = await ask(fake, "/killswitch off")
    assert question["text"].startswith("Confirm kill switch OFF")
    assert states.own("daemon").state is TradingState.HALTED  # nothing until confirmed
    assert "kill switch OFF" in await press(fake, question, "Confirm")
    assert states.own("daemon").state is TradingState.ACTIVE
    # the same button again: the token was spent
    again = len(fake.edits)
    confirm = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    fake.push_button(CHAT, question["message_id"], confirm)
    await wait_for(lambda: len(fake.edits) > again, REPLY_S)
    assert "no longer valid" in fake.edits[-1]["text"]

    flatten = await ask(fake, "/flatten")
    assert flatten["text"].startswith("Confirm FLATTEN")
    assert (await press(fake, flatten, "Cancel")).startswith("Cancelled: FLATTEN")
    assert states.own("daemon").state is TradingState.ACTIVE
    flatten = await ask(fake, "/flatten end of test")
    assert "flatten: closed" in await press(fake, flatten, "Confirm")
    assert states.own("daemon").state is TradingState.REDUCE_ONLY

    rows = await query(running.db, "SELECT data FROM events WHERE kind = 'operator'")
    audits = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]
    telegram = [(a["action"], a["outcome"]) for a in audits if a["via"] == "telegram"]
    assert ("kill_switch", "unconfirmed") in telegram
    assert ("kill_switch", "done") in telegram
    assert telegram.count(("flatten_all", "unconfirmed")) == 2
    assert ("flatten_all", "done") in telegram
    assert all(f"chat {CHAT}" in a["remote"] for a in audits if a["via"] == "telegram")
