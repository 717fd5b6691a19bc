"""TelegramNotifier: the two owned tasks that talk to Telegram.

* ``notify:telegram:alerts`` takes alerts from the ``AlertQueue`` in batches (one
  message of several lines), sends them to every configured chat, then waits
  ``min_interval_s`` before the next message: the rate limit. Trading never waits on
  this task: the queue's ``put`` is synchronous and drops the oldest alert when full.
* ``notify:telegram:updates`` long-polls ``getUpdates`` and answers commands and button
  presses from the configured chats through ``CommandRouter``; anything from another
  chat is ignored and logged.

Every call is retried with exponential backoff on network errors and 5xx; a 429's
``retry_after`` holds back every call (both tasks) until it has passed. A command older
than ``command_ttl_s`` when it arrives (sent while no daemon ran) is not carried out.
All waiting is on the injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any, TypeVar

from kinetic.clock import Clock
from kinetic.logging import get_logger
from kinetic.notify.alerts import AlertQueue
from kinetic.notify.telegram.client import (
    BotApi,
    Button,
    Rejected,
    RetryAfter,
    TelegramError,
    Unavailable,
)
from kinetic.notify.telegram.commands import CommandRouter
from kinetic.notify.telegram.schemas import ButtonPress, IncomingMessage, Update
from kinetic.tasks import cancel_and_wait

T = TypeVar("T")
BATCH_CHARS = 3500  # one alert message (Telegram's limit is 4096)
MAX_ATTEMPTS = 5
BACKOFF_S, MAX_BACKOFF_S = 1.0, 60.0
COMMAND_TTL_S = 60.0
DRAIN_S = 3.0  # at stop: how long queued alerts may still take to go out


class TelegramNotifier:
    """Alerts out, commands in; ``start`` and ``stop`` are called by the composition root."""

    def __init__(
        self,
        api: BotApi,
        chat_ids: Sequence[int],
        queue: AlertQueue,
        router: CommandRouter | None,
        clock: Clock,
        *,
        min_interval_s: float = 3.0,
        poll_timeout_s: int = 25,
        command_ttl_s: float = COMMAND_TTL_S,
        backoff_s: float = BACKOFF_S,
        drain_s: float = DRAIN_S,
    ) -> None:
        self.api = api
        self.chat_ids = tuple(chat_ids)
        self.queue = queue
        self.router = router
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.poll_timeout_s = poll_timeout_s
        self.command_ttl_s = command_ttl_s
        self.backoff_s = backoff_s
        self.drain_s = drain_s
        self.sent = 0  # alert messages delivered (per chat)
        self.failed = 0  # alert messages given up on (per chat)
        self.ignored = 0  # updates from chats not configured
        self._not_before = 0.0  # clock time before which no call is made (429)
        self._dropped_told = 0
        self._closing = asyncio.Event()  # set by stop: naps end, failed calls are not retried
        self._alerts: asyncio.Task[None] | None = None
        self._updates: asyncio.Task[None] | None = None
        self.log = get_logger(component="telegram")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the HTTP session and start the alert and update tasks."""
        await self.api.start()
        self._alerts = self._own(self._alert_loop(), "notify:telegram:alerts")
        if self.router is not None:
            self._updates = self._own(self._update_loop(), "notify:telegram:updates")
        self.log.info("telegram notifier started", chats=len(self.chat_ids),
                      commands=self.router is not None)  # fmt: skip

    def _own(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("telegram task ended", task=task.get_name(),
                           error=repr(task.exception()))  # fmt: skip

    async def stop_commands(self) -> None:
        """Stop answering commands (first in the shutdown: no operator action mid-drain)."""
        await _cancel(self._updates)
        self._updates = None

    async def stop(self) -> None:
        """Stop commands, let queued alerts go out for up to ``drain_s``, close the session."""
        await self.stop_commands()
        self._closing.set()
        self.queue.close()
        if self._alerts is not None and not self._alerts.done():
            timer = asyncio.ensure_future(self.clock.sleep(self.drain_s))
            await asyncio.wait({self._alerts, timer}, return_when=asyncio.FIRST_COMPLETED)
            await _cancel(timer)
        if len(self.queue) or (self._alerts is not None and not self._alerts.done()):
            self.log.warning("telegram alerts not delivered at shutdown", left=len(self.queue))
        await _cancel(self._alerts)
        self._alerts = None
        await self.api.close()
        self.log.info("telegram notifier stopped", sent=self.sent, failed=self.failed,
                      dropped=self.queue.dropped, ignored=self.ignored)  # fmt: skip

    # ------------------------------------------------------------------ alerts
    async def _alert_loop(self) -> None:
        while True:
            await self.queue.wait()
            if not len(self.queue):
                return  # closed and drained
            await self.send_batch()
            await self._nap(self.min_interval_s)

    async def send_batch(self) -> None:
        """Send the oldest queued alerts as one message to every chat."""
        lines = [a.text for a in self.queue.take(BATCH_CHARS)]
        dropped = self.queue.dropped - self._dropped_told
        if dropped:
            self._dropped_told = self.queue.dropped
            lines.append(f"({dropped} older alerts dropped: queue full)")
            self.log.warning("telegram alerts dropped", dropped=dropped,
                             total=self.queue.dropped)  # fmt: skip
        text = "\n".join(lines)
        for chat_id in self.chat_ids:
            if await self._call("sendMessage", partial(self.api.send_message, chat_id, text)):
                self.sent += 1
            else:
                self.failed += 1

    # ------------------------------------------------------------------ calls
    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()`` with retries: backoff on network errors, ``retry_after`` on 429."""
        delay = self.backoff_s
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if not await self._wait_rate_limit():
                break  # stopping while rate limited: no call before retry_after
            try:
                return await call()
            except RetryAfter as exc:
                self._not_before = max(self._not_before, self.clock.time() + exc.retry_after)
                self.log.warning("telegram rate limit", call=what, retry_after_s=exc.retry_after)
            except Unavailable as exc:
                self.log.warning("telegram call failed; retrying", call=what, attempt=attempt,
                                 error=str(exc), retry_in_s=delay)  # fmt: skip
                if self._closing.is_set():
                    break
                await self._nap(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
            except Rejected as exc:
                self.log.error("telegram refused the call", call=what, error=str(exc))
                return None
        self.log.error("telegram call given up", call=what)
        return None

    async def _wait_rate_limit(self) -> bool:
        """Wait until a 429's ``retry_after`` has passed; False if stopping before that."""
        while (wait := self._not_before - self.clock.time()) > 0:
            if self._closing.is_set():
                return False
            await self._nap(wait)
        return True

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds`` on the clock, or until ``stop`` begins."""
        if self._closing.is_set():
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({sleeper, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(sleeper)
            await _cancel(closing)

    # ------------------------------------------------------------------ updates
    async def _update_loop(self) -> None:
        offset: int | None = None
        delay = self.backoff_s
        while True:
            await self._wait_rate_limit()
            try:
                updates = await self.api.get_updates(offset, self.poll_timeout_s)
            except RetryAfter as exc:
                self._not_before = max(self._not_before, self.clock.time() + exc.retry_after)
                continue
            except TelegramError as exc:  # a bad token (401) keeps being logged, slowly
                self.log.warning("telegram getUpdates failed", error=str(exc), retry_in_s=delay)
                await self._nap(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            delay = self.backoff_s
            for update in updates:
                offset = update.update_id + 1
                try:
                    await self.dispatch(update)
                except Exception:  # one bad update never ends the command loop
                    self.log.exception("telegram update failed", update_id=update.update_id)

    async def dispatch(self, update: Update) -> None:
        """Answer one update from a configured chat; log and ignore any other."""
        if not isinstance(update, IncomingMessage | ButtonPress):
            return
        if update.chat_id not in self.chat_ids:
            self.ignored += 1
            self.log.warning("telegram update from an unknown chat ignored",
                             chat_id=update.chat_id, user=update.user)  # fmt: skip
            return
        assert self.router is not None
        if isinstance(update, ButtonPress):
            await self._press(update)
            return
        age_s = self.clock.time() - update.date_s
        if age_s > self.command_ttl_s:
            text = (f"Ignored {update.text.split()[0][:40]!r}: sent {age_s:.0f} s ago, before "
                    "the daemon was listening. Send it again if you still mean it.")  # fmt: skip
            await self._reply(update, text)
            return
        self.log.info("telegram command", chat_id=update.chat_id, user=update.user,
                      command=update.text[:100])  # fmt: skip
        try:
            reply = await self.router.handle(update.text, chat_id=update.chat_id,
                                             user=update.user)  # fmt: skip
        except Exception as exc:
            self.log.exception("telegram command failed", command=update.text[:100])
            await self._reply(update, f"Command failed: {type(exc).__name__}")
            return
        await self._reply(update, reply.text, reply.buttons)

    async def _press(self, press: ButtonPress) -> None:
        assert self.router is not None
        self.log.info("telegram button", chat_id=press.chat_id, user=press.user)
        await self._call("answerCallbackQuery", lambda: self.api.answer_button(press.query_id))
        text = await self.router.press(press.data, chat_id=press.chat_id, user=press.user)
        await self._call("editMessageText", lambda: self.api.edit_message(
            press.chat_id, press.message_id, text))  # fmt: skip

    async def _reply(
        self, to: IncomingMessage, text: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        await self._call("sendMessage", lambda: self.api.send_message(
            to.chat_id, text, buttons, reply_to=to.message_id))  # fmt: skip


async def _cancel(task: asyncio.Future[Any] | None) -> None:
    if task is None or task.done():
        return
    await cancel_and_wait(task)
