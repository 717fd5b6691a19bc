"""BotApi: the Telegram Bot API over aiohttp (JSON POSTs, long polling with getUpdates).

The only module that speaks Telegram's wire protocol. The token is part of every URL
(``{base}/bot{token}/{method}``), so no error raised here carries a URL or the
underlying aiohttp exception: messages name the method and what went wrong.

Errors: ``RetryAfter`` (429; ``parameters.retry_after`` seconds), ``Unavailable``
(network, timeout, 5xx: retry with backoff), ``Rejected`` (other 4xx: do not retry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
from pydantic import SecretStr

from kinetic.notify.telegram.schemas import Update, parse_update

DEFAULT_TIMEOUT_S = 10.0  # one request; getUpdates adds its long-poll timeout
MAX_TEXT = 4096  # Telegram's limit for one message


class TelegramError(Exception):
    """A Bot API call failed."""

    def __init__(self, method: str, detail: str, code: int = 0) -> None:
        super().__init__(f"telegram {method}: {detail}")
        self.method = method
        self.code = code


class RetryAfter(TelegramError):
    """429 Too Many Requests: wait ``retry_after`` seconds before the next call."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, f"rate limited, retry after {retry_after:g} s", 429)
        self.retry_after = retry_after


class Unavailable(TelegramError):
    """Network error, timeout or 5xx: worth retrying with backoff."""


class Rejected(TelegramError):
    """A 4xx other than 429 (bad request, blocked, unknown chat): retrying will not help."""


Button = tuple[str, str]  # (label, callback_data)


class BotApi:
    """One aiohttp session to ``base_url``; call ``start`` in the loop, ``close`` at the end."""

    def __init__(
        self, base_url: str, token: SecretStr, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, payload: dict[str, Any], *, extra_s: float = 0.0) -> Any:
        """POST ``payload`` to ``method``; return its ``result`` or raise a ``TelegramError``."""
        if self._session is None:
            raise Unavailable(method, "client not started")
        url = f"{self._base}/bot{self._token.get_secret_value()}/{method}"
        timeout = aiohttp.ClientTimeout(total=self.timeout_s + extra_s)
        try:
            async with self._session.post(url, json=payload, timeout=timeout) as resp:
                status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    body = None
        except TimeoutError:
            raise Unavailable(method, "timed out") from None
        except aiohttp.ClientError as exc:
            raise Unavailable(method, f"connection failed ({type(exc).__name__})") from None
        return _result(method, status, body)

    async def get_updates(self, offset: int | None, timeout_s: int) -> list[Update]:
        """Long-poll for new messages and button presses (``offset``: first unseen id)."""
        payload: dict[str, Any] = {
            "timeout": timeout_s,
            "allowed_updates": ["message", "callback_query"],
        }
        if offset is not None:
            payload["offset"] = offset
        raw = await self.call("getUpdates", payload, extra_s=float(timeout_s))
        if not isinstance(raw, list):
            raise Unavailable("getUpdates", "result is not a list")
        return [u for u in (parse_update(r) for r in raw) if u is not None]

    async def send_message(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[Button] = (),
        *,
        reply_to: int | None = None,
    ) -> int:
        """Send ``text`` (plain, cut to Telegram's limit); return the new message's id.

        ``buttons``: one row of inline buttons; ``reply_to``: the message this answers.
        """
        payload: dict[str, Any] = {"chat_id": chat_id, "text": _cut(text)}
        if reply_to is not None:
            payload["reply_parameters"] = {"message_id": reply_to,
                                           "allow_sending_without_reply": True}  # fmt: skip
        if buttons:
            payload["reply_markup"] = _keyboard(buttons)
        result = await self.call("sendMessage", payload)
        return int(result.get("message_id", 0)) if isinstance(result, dict) else 0

    async def edit_message(self, chat_id: int, message_id: int, text: str) -> None:
        """Replace a message's text (and remove its buttons)."""
        payload = {"chat_id": chat_id, "message_id": message_id, "text": _cut(text)}
        await self.call("editMessageText", payload)

    async def answer_button(self, query_id: str, text: str = "") -> None:
        """Acknowledge a button press (Telegram shows ``text`` briefly)."""
        payload: dict[str, Any] = {"callback_query_id": query_id}
        if text:
            payload["text"] = text[:200]
        await self.call("answerCallbackQuery", payload)


def _result(method: str, status: int, body: Any) -> Any:
    if isinstance(body, dict) and body.get("ok") is True:
        return body.get("result")
    if not isinstance(body, dict):
        raise Unavailable(method, f"HTTP {status}, not a Bot API answer", status)
    raw_code = body.get("error_code")
    code = raw_code if isinstance(raw_code, int) else status
    if code == 429:
        params = body.get("parameters")
        retry = params.get("retry_after") if isinstance(params, dict) else None
        raise RetryAfter(method, float(retry) if isinstance(retry, int | float) else 1.0)
    detail = str(body.get("description") or "")[:200]
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    if code >= 500:
        raise Unavailable(method, text, code)
    raise Rejected(method, text, code)


def _keyboard(buttons: Sequence[Button]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data}
                                 for label, data in buttons]]}  # fmt: skip


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
