"""A fake Telegram Bot API server on 127.0.0.1 (aiohttp.web), for the notifier's tests.

It speaks the real wire protocol: ``POST /bot<token>/<method>`` with a JSON body,
answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ..., "parameters": {"retry_after": n}}``. Methods: getUpdates (long
polling: waits for a pushed update up to the request's ``timeout``), sendMessage,
editMessageText, answerCallbackQuery. Faults a test can set: the next calls of a
method answered 429 with ``retry_after``; ``blackhole``: every request hangs (counted)
until the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

TOKEN = "123456:FAKE-test-token-0123456789"


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every request, in order
        self.sent: list[dict[str, Any]] = []  # delivered sendMessage payloads (+message_id)
        self.edits: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.blackhole = False
        self.hanging = 0  # requests held by the blackhole
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 100
        self._limits: dict[str, deque[float]] = defaultdict(deque)
        self._pushed = asyncio.Event()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ control
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._release.set()
        self._pushed.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def rate_limit(self, method: str, retry_after: float, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``retry_after``."""
        self._limits[method].extend([retry_after] * times)

    def push_message(
        self, chat_id: int, text: str, *, date: int | None = None, user_id: int = 7
    ) -> int:
        """Queue a text message from ``chat_id`` (``date``: unix seconds, default now).

        Returns the message's id (what a reply's ``reply_parameters`` names).
        """
        mid = self._message_id()
        message = {
            "message_id": mid,
            "date": int(time.time()) if date is None else date,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Op", "username": "op"},
            "text": text,
        }
        self._push({"message": message})
        return mid

    def push_button(self, chat_id: int, message_id: int, data: str, *, user_id: int = 7) -> int:
        """Queue a press on an inline button of message ``message_id``."""
        query = {
            "id": f"cb{self._next_update}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Op", "username": "op"},
            "message": {"message_id": message_id, "chat": {"id": chat_id, "type": "private"},
                        "date": int(time.time()), "text": "?"},
            "chat_instance": "1",
            "data": data,
        }  # fmt: skip
        return self._push({"callback_query": query})

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m["text"] for m in self.sent if chat_id is None or m["chat_id"] == chat_id]

    def reply_to(self, message_id: int) -> dict[str, Any] | None:
        """The bot's message answering ``message_id``, if one arrived."""
        for m in self.sent:
            if (m.get("reply_parameters") or {}).get("message_id") == message_id:
                return m
        return None

    def edit_of(self, message_id: int) -> dict[str, Any] | None:
        """The last edit of the bot's message ``message_id``."""
        found = [e for e in self.edits if e.get("message_id") == message_id]
        return found[-1] if found else None

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)

    # ------------------------------------------------------------------ server
    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    def _push(self, update: dict[str, Any]) -> int:
        update_id = self._next_update
        self._next_update += 1
        self._updates.append({"update_id": update_id, **update})
        self._pushed.set()
        return update_id

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        payload = await request.json()
        self.calls.append((method, payload))
        if self.blackhole:
            self.hanging += 1
            await self._release.wait()
            return _error(502, "Bad Gateway")
        if self._limits[method]:
            retry = self._limits[method].popleft()
            body = {"ok": False, "error_code": 429, "parameters": {"retry_after": retry},
                    "description": f"Too Many Requests: retry after {retry:g}"}  # fmt: skip
            return web.json_response(body, status=429)
        if method == "getUpdates":
            return _ok(await self._get_updates(payload))
        if method == "sendMessage":
            if "chat_id" not in payload or not payload.get("text"):
                return _error(400, "Bad Request: message text is empty")
            message = {**payload, "message_id": self._message_id()}
            self.sent.append(message)
            return _ok({"message_id": message["message_id"], "chat": {"id": payload["chat_id"]},
                        "date": int(time.time()), "text": payload["text"]})  # fmt: skip
        if method == "editMessageText":
            self.edits.append(payload)
            return _ok({"message_id": payload.get("message_id"), "text": payload.get("text")})
        if method == "answerCallbackQuery":
            self.answers.append(payload)
            return _ok(True)
        return _error(404, "Not Found: method not found")

    async def _get_updates(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(payload.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
        if not self._updates and not self._release.is_set():
            self._pushed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pushed.wait(), timeout=float(payload["timeout"]))
        return [u for u in self._updates if u["update_id"] >= offset]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )
